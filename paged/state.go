package paged

// SeqState is a snapshot of a sequence's counters.
type SeqState struct {
	Tokens   int  // prompt + accepted tokens
	Computed int  // tokens with KV in the cache
	Reserved int  // positions with slots
	Blocks   int  // block-table length (host blocks while swapped)
	Cached   int  // leading blocks registered in the prefix cache
	Started  bool // the first reservation happened
	Swapped  bool // the blocks are in the host tier
	// Frontier is the device block that holds position Computed (the next token to
	// compute), table[Computed/BlockSize], or -1 when the table has no block there or
	// the sequence is swapped. Blocks before it hold only computed tokens; it holds
	// Computed mod BlockSize of them; the Blocks − Computed/BlockSize − 1 blocks after
	// it hold none, and those within [Computed, Reserved) are private to the sequence
	// (never shared, never cached). With Stats.UsedBlocks this lets a caller account
	// KV memory in O(1) per sequence instead of walking block tables: only frontier
	// blocks are partly filled and may be shared (forks share them), so they are the
	// only ones to deduplicate by id.
	Frontier int32
	// Released is the number of NullBlock entries over all KV-cache groups' tables:
	// the blocks windowed groups released (0 without them). Every group's table has
	// Blocks entries, so the sequence holds NumGroups × Blocks − Released table
	// entries; their sharing follows group 0's (forks share, and copy on write, in
	// every group at once), so Frontier's sharing stands for every group's.
	Released int
}

func (m *Manager) state(s *sequence) SeqState {
	st := SeqState{Tokens: len(s.tokens), Computed: s.computed, Reserved: s.reserved,
		Blocks: len(s.table), Cached: s.numCached, Started: s.claimed, Swapped: s.swapped, Frontier: -1}
	if j := m.div(s.computed); !s.swapped && j < len(s.table) {
		st.Frontier = s.table[j]
	}
	if m.windowed {
		for _, g := range m.wins {
			st.Released += m.liveFrom(s, g)
		}
	}
	return st
}

// State returns a snapshot of the sequence's counters (swapped sequences included).
func (m *Manager) State(id SeqID) (SeqState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return SeqState{}, err
	}
	return m.state(s), nil
}

// SeqStates appends the states of a batch of sequences to dst under one lock, in
// O(len(ids)): the call a scheduler's or simulator's per-iteration memory sampling
// makes instead of State and BlockTable per sequence. All or nothing: an unknown id
// returns dst unchanged with the error.
func (m *Manager) SeqStates(ids []SeqID, dst []SeqState) ([]SeqState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if _, err := m.seq(id); err != nil {
			return dst, err
		}
	}
	for _, id := range ids {
		s, _ := m.seq(id)
		dst = append(dst, m.state(s))
	}
	return dst, nil
}
