package paged

import "github.com/pagedkv/pagedkv/blockpool"

// MarkComputed records that the engine wrote KV for the next n reserved tokens
// (positions [computed, computed+n)), 0 ≤ n ≤ min(reserved, tokens) − computed.
// Exactly then, every block whose tokens are now all computed is registered in the
// prefix cache (and a BlockStored event queued): later lookups and reservations, by
// any sequence, can hit it.
func (m *Manager) MarkComputed(id SeqID, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return err
	}
	if err := m.checkMark(id, s, n); err != nil {
		return err
	}
	m.markComputed(s, n)
	return nil
}

// MarkComputedBatch is MarkComputed(ids[i], n) for every id under one lock, all or
// nothing: an unknown, swapped or repeated id, or an n out of range for any of them,
// changes nothing.
func (m *Manager) MarkComputedBatch(ids []SeqID, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	batch, err := m.batchOnDevice(ids)
	if err != nil {
		return err
	}
	for i, s := range batch {
		if err := m.checkMark(ids[i], s, n); err != nil {
			return err
		}
	}
	for _, s := range batch {
		m.markComputed(s, n)
	}
	return nil
}

// checkMark range-checks n without overflow: computed + n ≤ min(reserved, tokens).
func (m *Manager) checkMark(id SeqID, s *sequence, n int) error {
	if n < 0 || n > s.reserved-s.computed || n > len(s.tokens)-s.computed {
		return errf(ErrInvalidArgument, "sequence %d: mark %d computed at %d (reserved %d, tokens %d)",
			id, n, s.computed, s.reserved, len(s.tokens))
	}
	return nil
}

// markComputed advances computed by n and registers the blocks that became full,
// queueing BlockStored events: one per run of registrations in vLLM's form, one per
// run of hashes new to the cache in the per-distinct-hash form.
func (m *Manager) markComputed(s *sequence, n int) {
	s.computed += n
	if !m.caching() {
		return
	}
	full := m.div(s.computed)
	if full <= s.numCached {
		return
	}
	ev := &m.events
	runStart := -1 // first block of the current run of reported registrations
	for j := s.numCached; j < full; j++ {
		var parent uint64
		if j > 0 {
			parent = m.pool.Identity(s.table[j-1])
		}
		first, err := m.pool.Cache(s.table[j], blockpool.Key{
			Hash: uint64(s.chain.Hash(j)), Parent: parent,
			Tokens: s.tokens[j*m.bs : (j+1)*m.bs], Extra: s.chain.ExtraFingerprint(j),
		}, m.newIdent())
		if err != nil {
			panic("paged: registering a computed block failed: " + err.Error())
		}
		if !ev.on {
			continue
		}
		if first || !ev.distinct {
			if runStart < 0 {
				runStart = j
			}
		} else if runStart >= 0 {
			ev.stored(s, runStart, j)
			runStart = -1
		}
	}
	if runStart >= 0 {
		ev.stored(s, runStart, full)
	}
	s.numCached = full
}
