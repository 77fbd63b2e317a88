package paged

import (
	"math"

	"github.com/pagedkv/pagedkv/blockpool"
)

// The per-group work on a sequence's tables (KV-cache groups; the plain model, one
// full-attention group, keeps its single-table code in commit.go and manager.go).

// markGroups advances computed by n and registers in every group the blocks that
// became full.
func (m *Manager) markGroups(s *sequence, n int) {
	s.computed += n
	if m.caching() {
		full := m.div(s.computed)
		for g := range m.grp {
			m.registerGroup(s, g, full)
		}
		s.numCached = max(s.numCached, full)
	}
}

// slide releases, in every windowed group, the blocks no position from computed on
// reads any more (vLLM's remove_skipped_blocks, at scheduling): a reservation makes
// it first, so the blocks it frees serve that very reservation, the step's
// attention (which reads from computed's window on) never reads them, and a
// rollback of this step's tokens never needs them back. They keep their hash
// (hit-able until evicted) and enter the free queue later blocks first, asking the
// sequence's retention.
func (m *Manager) slide(s *sequence) {
	if s.computed < s.nextRel { // nothing left any window yet
		s.relAt = s.computed
		return
	}
	for _, g := range m.wins {
		m.releaseWindow(s, g, m.skipBlocks(g, s.relAt), m.skipBlocks(g, s.computed))
	}
	s.relAt = s.computed
	s.nextRel = m.nextRelease(s)
}

// nextRelease returns the least computed count at which some windowed group of s
// would release a block beyond those released at relAt (math.MaxInt without a
// windowed group): a sliding window W releases block k once computed−W+1 ≥ (k+1)×bs,
// a chunk C once the chunk start ⌊computed/C⌋×C reaches (k+1)×bs.
func (m *Manager) nextRelease(s *sequence) int {
	next := math.MaxInt
	for _, g := range m.wins {
		end := (m.skipBlocks(g, s.relAt) + 1) * m.bs // the next block's end
		switch w := m.grp[g].window; m.grp[g].kind {
		case SlidingWindow:
			next = min(next, end+w-1)
		case ChunkedLocal:
			next = min(next, (end+w-1)/w*w)
		}
	}
	return next
}

// slideFrees returns how many blocks slide would free (bring to reference count 0)
// over a batch of distinct sequences, counting blocks several of them share
// exactly. It changes nothing.
func (m *Manager) slideFrees(batch []*sequence) int {
	freed, any := 0, false
	for _, s := range batch {
		if s.computed < s.nextRel {
			continue
		}
		any = true
		for _, g := range m.wins {
			tab := *s.tab(g)
			for _, b := range tab[m.skipBlocks(g, s.relAt):m.skipBlocks(g, s.computed)] {
				if m.relCount[b]++; int(m.relCount[b]) == m.pool.RefCount(b) {
					freed++
				}
			}
		}
	}
	if any { // reset the counters
		for _, s := range batch {
			if s.computed < s.nextRel {
				continue
			}
			for _, g := range m.wins {
				tab := *s.tab(g)
				for _, b := range tab[m.skipBlocks(g, s.relAt):m.skipBlocks(g, s.computed)] {
					m.relCount[b] = 0
				}
			}
		}
	}
	return freed
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
		if (j-s.numCached)%prefetchRun == 0 {
			m.prefetch(&s.chain, tab, j, full, uint32(g))
		}
		var parent, ident uint64
		switch {
		case windowed:
			parent, ident = m.fpIdent(&s.chain, s.fps, j-1), m.fpIdent(&s.chain, s.fps, j)
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

// storedRunGroup is storedRun for group g's events: it extends or closes the run
// of blocks of s in group g reported in one BlockStored event, given that block j
// was just cached (first: its hash is new to the device tier), and returns the
// run's first block, or -1.
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
func (m *Manager) liveFrom(s *sequence, g int) int { return m.skipBlocks(g, s.relAt) }

// rollbackReleased reports a windowed group that released a block the sequence
// would need again if its computed count dropped to computed (Rollback cannot
// bring a released block back), or −1.
func (m *Manager) rollbackReleased(s *sequence, computed int) int {
	for _, g := range m.wins {
		if m.skipBlocks(g, computed) < m.skipBlocks(g, s.relAt) {
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

// slideFreesOne is slideFrees for one sequence (0 without a windowed group).
func (m *Manager) slideFreesOne(s *sequence) int {
	if !m.windowed {
		return 0
	}
	m.batch = append(m.batch[:0], s)
	return m.slideFrees(m.batch)
}
