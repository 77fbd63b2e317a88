package paged

// Block tables and slot mappings of KV-cache groups (Config.Groups). Group 0's are
// also what BlockTable, BlockTables and SlotMapping return; DecodeStep writes group
// 0's slots, DecodeSlotsGroup the others'. Every group's table has the same length
// and maps the same positions (one block size); a windowed group's table starts
// with NullBlock entries for the blocks it released.

// BlockTableGroup appends group g's block table of the sequence to dst: block ids in
// token order, NullBlock for the blocks a windowed group released. g outside [0,
// NumGroups) gives ErrInvalidArgument.
func (m *Manager) BlockTableGroup(id SeqID, g int, dst []int32) ([]int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkGroup(g); err != nil {
		return dst, err
	}
	s, err := m.onDevice(id)
	if err != nil {
		return dst, err
	}
	return append(dst, *s.tab(g)...), nil
}

// BlockTablesGroup is BlockTables for group g: dst[i] holds group g's table of
// ids[i], reusing dst's arrays. All or nothing.
func (m *Manager) BlockTablesGroup(ids []SeqID, g int, dst [][]int32) ([][]int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkGroup(g); err != nil {
		return dst, err
	}
	for _, id := range ids {
		if _, err := m.onDevice(id); err != nil {
			return dst, err
		}
	}
	if cap(dst) < len(ids) {
		dst = append(dst[:cap(dst)], make([][]int32, len(ids)-cap(dst))...)
	}
	dst = dst[:len(ids)]
	for i, id := range ids {
		s, _ := m.seq(id)
		dst[i] = append(dst[i][:0], *s.tab(g)...)
	}
	return dst, nil
}

// SlotMappingGroup appends the slots of positions [start, end) of the sequence in
// group g to dst: slot = blockID × BlockSize + offset, blockID from group g's table
// (the offset is the same in every group). Every position must be reserved (0 ≤
// start ≤ end ≤ reserved) and not in a block group g released; else
// ErrInvalidArgument.
func (m *Manager) SlotMappingGroup(id SeqID, g, start, end int, dst []int64) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkGroup(g); err != nil {
		return dst, err
	}
	s, err := m.onDevice(id)
	if err != nil {
		return dst, err
	}
	if start < 0 || start > end || end > s.reserved {
		return dst, errf(ErrInvalidArgument, "slots [%d,%d) but %d positions reserved", start, end, s.reserved)
	}
	if live := m.liveFrom(s, g) * m.bs; start < end && start < live {
		return dst, errf(ErrInvalidArgument, "slots [%d,%d) of group %d: positions before %d were released from its window", start, end, g, live)
	}
	table := *s.tab(g)
	for p := start; p < end; p++ {
		dst = append(dst, m.groupSlot(table, p))
	}
	return dst, nil
}

// DecodeSlotsGroup writes into slots[i] the slot of ids[i]'s next position to
// compute (its State.Computed, the token a DecodeStep just appended) in group g,
// under one lock: after DecodeStep, the slots of the other groups. Each sequence
// must have that position reserved; len(slots) ≥ len(ids). All or nothing.
func (m *Manager) DecodeSlotsGroup(ids []SeqID, g int, slots []int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkGroup(g); err != nil {
		return err
	}
	if len(slots) < len(ids) {
		return errf(ErrInvalidArgument, "%d ids, %d slots", len(ids), len(slots))
	}
	for _, id := range ids {
		s, err := m.onDevice(id)
		if err != nil {
			return err
		}
		if s.computed >= s.reserved {
			return errf(ErrInvalidArgument, "sequence %d has no reserved position at %d", id, s.computed)
		}
	}
	for i, id := range ids {
		s, _ := m.seq(id)
		slots[i] = m.groupSlot(*s.tab(g), s.computed)
	}
	return nil
}
