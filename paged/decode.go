package paged

// DecodeStep runs the manager's part of one decode step for a batch under one lock:
// for each i it appends tokens[i] (the token sampled last step) to ids[i], reserves
// its slot plus lookahead slots (in [0, MaxSeqLen]), and writes the new token's slot
// into slots[i] (len(slots) ≥ len(ids); group 0's slot with KV-cache groups,
// DecodeSlotsGroup gives the others'). Each sequence must have every earlier token
// computed. Copy-on-write copies (and, with a host prefix cache, the offloads of the
// blocks its allocations evict and queued write-through copies) are appended to
// copies and returned, in the order the engine must perform them. With a windowed
// KV-cache group, the blocks that left each sequence's window are released first
// (see Reserve) and serve the batch's allocations.
//
// All or nothing over the whole batch: on any error (unknown, swapped or repeated
// id, a sequence not ready for decode or at MaxSeqLen, not enough free blocks)
// nothing changes.
func (m *Manager) DecodeStep(ids []SeqID, tokens []int32, lookahead int, slots []int64, copies []BlockCopy) ([]BlockCopy, error) {
	if len(tokens) != len(ids) || len(slots) < len(ids) {
		return copies, errf(ErrInvalidArgument, "%d ids, %d tokens, %d slots", len(ids), len(tokens), len(slots))
	}
	if err := checkLookahead(lookahead); err != nil {
		return copies, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	batch, err := m.batchOnDevice(ids)
	if err != nil {
		return copies, err
	}
	need := 0
	for i, s := range batch {
		switch {
		case !s.claimed || s.computed != len(s.tokens):
			return copies, errf(ErrInvalidArgument, "sequence %d has %d of %d tokens computed; decode needs all", ids[i], s.computed, len(s.tokens))
		case len(s.tokens) >= MaxSeqLen:
			return copies, errf(ErrInvalidArgument, "sequence %d is at MaxSeqLen", ids[i])
		}
		need += m.planReserve(s, 0, s.computed, s.computed+1+lookahead)
	}
	freed := 0
	if m.windowed {
		freed = m.slideFrees(batch)
	}
	if need > m.pool.NumFree()+freed {
		return copies, errf(ErrNoSpace, "batch of %d needs %d blocks, %d free", len(ids), need, m.pool.NumFree()+freed)
	}
	m.begin(copies, nil)
	if m.windowed { // every release first: they serve every sequence's allocation
		for _, s := range batch {
			m.slide(s)
		}
	}
	for i, s := range batch {
		m.appendTokens(s, tokens[i:i+1])
		m.applyReserve(s, s.computed+1+lookahead, s.computed+1)
		slots[i] = m.slot(s, s.computed)
	}
	return m.end(), nil
}
