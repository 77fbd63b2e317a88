package paged

import (
	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

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

// markComputed advances computed by n and registers the blocks that became full
// (register). With RegisterAtReserve most are registered already; they are now
// marked written.
func (m *Manager) markComputed(s *sequence, n int) {
	if m.hybrid {
		m.markGroups(s, n)
		return
	}
	old := s.computed
	s.computed += n
	if !m.caching() {
		return
	}
	if m.tier.on {
		for j := m.div(old); j < min(m.div(s.computed), s.numCached); j++ {
			m.computedBlock(s.table[j])
		}
	}
	m.register(s, m.div(s.computed))
}

// register caches blocks [numCached, full) of s's table under its chain hashes and
// sets numCached = full, queueing BlockStored events: one per run of registrations in
// vLLM's form, one per run of hashes new to the cache in the per-distinct-hash form.
// Each block's parent identity is the identity of the block before it in the table.
func (m *Manager) register(s *sequence, full int) {
	if full <= s.numCached {
		return
	}
	ev := &m.events
	runStart := -1 // first block of the current run of reported registrations
	for j := s.numCached; j < full; j++ {
		if (j-s.numCached)%prefetchRun == 0 {
			m.prefetch(&s.chain, s.table, j, full, 0)
		}
		var parent uint64
		if j > 0 {
			parent = m.pool.Identity(s.table[j-1])
		}
		k := blockpool.Key{Hash: uint64(s.chain.Hash(j)), Parent: parent,
			Tokens: s.tokens[j*m.bs : (j+1)*m.bs], Extra: s.chain.ExtraFingerprint(j)}
		first, err := m.pool.Cache(s.table[j], k, m.identityFor(&k))
		if err != nil {
			panic("paged: registering a block failed: " + err.Error())
		}
		m.registered(s, j, s.table[j], (j+1)*m.bs <= s.computed)
		runStart = m.storedRun(s, j, first, runStart)
	}
	if runStart >= 0 && ev.on {
		ev.stored(s, runStart, full)
	}
	s.numCached = full
}

// prefetchRun is how many blocks ahead register prefetches the index slots of the
// blocks it caches (blockpool.Pool.Prefetch).
const prefetchRun = 16

// prefetch reads ahead what caching blocks j up to prefetchRun of table (not beyond
// full; chain c holds their hashes) in group g touches (blockpool.PrefetchCache):
// the cache misses overlap instead of each Cache call taking its own in turn.
func (m *Manager) prefetch(c *prefix.Chain, table []blockpool.BlockID, j, full int, g uint32) {
	for end := min(full, j+prefetchRun); j < end; j++ {
		m.pool.PrefetchCache(table[j], uint64(c.Hash(j)), g)
	}
}

// storedRun extends or closes the run of blocks of s reported in one BlockStored
// event, given that block j was just cached (first: its hash is new to the device
// tier). It returns the run's first block, or -1.
func (m *Manager) storedRun(s *sequence, j int, first bool, runStart int) int {
	return m.storedRunGroup(s, 0, j, first, runStart)
}

// identityFor returns the identity a block about to be cached under k gets: a fresh
// one, or with MatchDuplicateParents the identity of an equivalent cached block
// (same hash, tokens, extra keys and parent identity) in either tier, so children
// registered under either copy are found through both.
func (m *Manager) identityFor(k *blockpool.Key) uint64 {
	if m.cfg.MatchDuplicateParents {
		if id, ok := m.pool.Lookup(*k); ok {
			return m.pool.Identity(id)
		}
		if m.tier.on {
			if id, ok := m.host.Lookup(*k); ok {
				return m.host.Identity(id)
			}
		}
	}
	return m.newIdent()
}
