package paged

import "github.com/pagedkv/pagedkv/blockpool"

// Pool returns the underlying device pool for observation in tests (reference counts,
// cached state, free-queue order). Not lock-protected.
func (m *Manager) Pool() *blockpool.Pool { return m.pool }

// CanAdmitSequence is the admission check that Admit replaced, kept for the benchmark
// that compares the old three-call admission (CanAdmitSequence, CachedPrefix,
// Reserve) with Admit.
func (m *Manager) CanAdmitSequence(id SeqID, lookahead int) (Admission, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return AdmitNever, err
	}
	if s.claimed {
		return AdmitNever, errf(ErrInvalidArgument, "sequence %d already started", id)
	}
	l := m.lookupSeq(s)
	return m.admit(m.requiredBlocks(len(s.tokens), l, len(s.tokens)-l.tokens(m.bs), lookahead)), nil
}

// chainHash returns the hash of block j of a live sequence (tests only, not locked).
func (m *Manager) chainHash(id SeqID, j int) uint64 {
	s, err := m.seq(id)
	if err != nil {
		panic(err)
	}
	return uint64(s.chain.Hash(j))
}
