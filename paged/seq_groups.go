package paged

import (
	"github.com/pagedkv/pagedkv/blockpool"
)

// The per-group work on a sequence's tables (KV-cache groups; the plain model, one
// full-attention group, keeps its single-table code in commit.go and manager.go).

// markGroups advances computed by n, registers in every group the blocks that
// became full, then releases the blocks each windowed group no longer needs. They
// keep their hash (hit-able until evicted) and enter the free queue later blocks
// first, asking the sequence's retention. MarkComputed comes after the step's
// attention read the KV, so the released blocks are no longer read.
func (m *Manager) markGroups(s *sequence, n int) {
	old := s.computed
	s.computed += n
	if m.caching() {
		full := m.div(s.computed)
		for g := range m.grp {
			m.registerGroup(s, g, full)
		}
		s.numCached = max(s.numCached, full)
	}
	for _, g := range m.wins {
		m.releaseWindow(s, g, m.skipBlocks(g, old), m.skipBlocks(g, s.computed))
	}
}

// releaseWindow releases entries [from, to) of windowed group g's table (all blocks)
// and puts NullBlock in their place.
func (m *Manager) releaseWindow(s *sequence, g, from, to int) {
	if to <= from {
		return
	}
	tab := *s.tab(g)
	if err := m.pool.ReleaseTableWith(tab[from:to], m.retention(s)); err != nil {
		panic("paged: releasing a window failed: " + err.Error())
	}
	for j := from; j < to; j++ {
		tab[j] = NullBlock
	}
	m.stats.windowReleases += uint64(to - from)
}

// registerGroup caches blocks [numCached, full) of group g's table under the
// sequence's chain hashes, queueing BlockStored events with Group g. A full-attention
// group chains identities as the plain model does; a windowed group's block is
// cached under the fingerprint of its prefix (fingerprint.go), since the blocks
// before it may already be released.
func (m *Manager) registerGroup(s *sequence, g, full int) {
	if full <= s.numCached {
		return
	}
	tab := *s.tab(g)
	windowed := m.grp[g].kind != FullAttention
	runStart := -1
	for j := s.numCached; j < full; j++ {
		var parent, ident uint64
		switch {
		case windowed:
			parent, ident = fpIdent(s.fps, j-1), fpIdent(s.fps, j)
		case j > 0:
			parent = m.pool.Identity(tab[j-1])
		}
		k := m.groupKey(&s.chain, s.tokens, j, g, parent)
		if !windowed {
			ident = m.identityFor(&k)
		}
		first, err := m.pool.Cache(tab[j], k, ident)
		if err != nil {
			panic("paged: registering a block failed: " + err.Error())
		}
		runStart = m.storedRunGroup(s, g, j, first, runStart)
	}
	if runStart >= 0 && m.events.on {
		m.events.storedGroup(s, g, runStart, full)
	}
}

// storedRunGroup is storedRun for group g's events.
func (m *Manager) storedRunGroup(s *sequence, g, j int, first bool, runStart int) int {
	ev := &m.events
	if !ev.on {
		return -1
	}
	if first || !ev.distinct {
		if runStart < 0 {
			runStart = j
		}
		return runStart
	}
	if runStart >= 0 {
		ev.storedGroup(s, g, runStart, j)
	}
	return -1
}

// releaseGroups releases every block of every group's table, group by group, each
// tail first, asking the sequence's retention (Free).
func (m *Manager) releaseGroups(s *sequence) error {
	r := m.retention(s)
	for g := range m.grp {
		tab := *s.tab(g)
		if err := m.pool.ReleaseTableWith(tab[m.liveFrom(s, g):], r); err != nil {
			return err
		}
	}
	return nil
}

// liveFrom is the first entry of group g's table that holds a block.
func (m *Manager) liveFrom(s *sequence, g int) int {
	if !s.claimed {
		return 0
	}
	return m.skipBlocks(g, s.computed)
}

// rollbackReleased reports a windowed group that released a block the sequence
// would need again if its computed count dropped to computed (Rollback cannot
// bring a released block back), or −1.
func (m *Manager) rollbackReleased(s *sequence, computed int) int {
	for _, g := range m.wins {
		if m.skipBlocks(g, computed) < m.skipBlocks(g, s.computed) {
			return g
		}
	}
	return -1
}

// groupSlot returns the slot of position pos in a group's table (the caller checked
// that its block is not released).
func (m *Manager) groupSlot(table []blockpool.BlockID, pos int) int64 {
	j := m.div(pos)
	return int64(table[j])*int64(m.bs) + int64(pos-j*m.bs)
}
