package paged

// BlockTable appends the sequence's block table (block ids in token order) to dst
// and returns it. The table covers every reserved slot. With KV-cache groups it is
// group 0's table (BlockTableGroup).
func (m *Manager) BlockTable(id SeqID, dst []int32) ([]int32, error) {
	return m.BlockTableGroup(id, 0, dst)
}

// BlockTables reads the block tables of a batch under one lock: it returns dst
// resized to len(ids) with dst[i] holding the table of ids[i], reusing the arrays
// dst[i] already has (so a caller that keeps dst allocates nothing in steady state).
// All or nothing: an unknown or swapped id returns dst unchanged with the error.
func (m *Manager) BlockTables(ids []SeqID, dst [][]int32) ([][]int32, error) {
	return m.BlockTablesGroup(ids, 0, dst)
}

// SlotMapping appends the slots of positions [start, end) of the sequence to dst: slot
// = blockID × BlockSize + offset. Every position must be reserved (0 ≤ start ≤ end ≤
// reserved) and, when group 0 is windowed, not in a released block. It is
// SlotMappingGroup for group 0.
func (m *Manager) SlotMapping(id SeqID, start, end int, dst []int64) ([]int64, error) {
	return m.SlotMappingGroup(id, 0, start, end, dst)
}
