package paged

import "fmt"

// BlockTable appends the sequence's block table (block ids in token order) to dst
// and returns it. The table covers every reserved slot.
func (m *Manager) BlockTable(id SeqID, dst []int32) ([]int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return dst, err
	}
	return append(dst, s.table...), nil
}

// SlotMapping appends the slots of positions [start, end) of the sequence to dst: slot
// = blockID × BlockSize + offset. Every position must be reserved.
func (m *Manager) SlotMapping(id SeqID, start, end int, dst []int64) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return dst, err
	}
	if start < 0 || start > end || end > s.reserved {
		return dst, fmt.Errorf("%w: slots [%d,%d) but %d positions reserved", ErrInvalidArgument, start, end, s.reserved)
	}
	for p := start; p < end; p++ {
		dst = append(dst, m.slot(s, p))
	}
	return dst, nil
}

// SeqState is a snapshot of a sequence's counters.
type SeqState struct {
	Tokens   int  // prompt + accepted tokens
	Computed int  // tokens with KV in the cache
	Reserved int  // positions with slots
	Blocks   int  // block-table length
	Cached   int  // leading blocks registered in the prefix cache
	Started  bool // the first reservation happened
	Swapped  bool // the blocks are in the host tier
}

// State returns a snapshot of the sequence's counters.
func (m *Manager) State(id SeqID) (SeqState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return SeqState{}, err
	}
	return SeqState{Tokens: len(s.tokens), Computed: s.computed, Reserved: s.reserved,
		Blocks: len(s.table), Cached: s.numCached, Started: s.claimed, Swapped: s.swapped}, nil
}
