package paged

import "github.com/pagedkv/pagedkv/blockpool"

// Grouped eviction (Config.GroupedEviction).
//
// A hybrid prefix hit at n blocks needs every full-attention block before n and a
// windowed group's last few blocks before n (lookup_hybrid.go). A windowed group
// releases blocks mid-sequence, as soon as they leave its window: they enter the
// free queue long before the sequence's full-attention blocks, which Free releases
// at the end, so LRU evicts them first — and with them every hit on the prefix,
// while its full-attention blocks stay cached, useless. Grouped eviction keeps a
// prefix's blocks together in the eviction order: at Free, every group's block of
// position j sits beside the others of position j, the last position first (the
// order ReleaseTable gives one table), and the window blocks the sequence released
// earlier that are still cached and free are taken out of the queue and put back
// there. A prefix then loses its positions from the end in every group at once, and
// each shorter prefix the sequence computed or held stays a hit for as long as it is
// cached. Window blocks of positions the sequence never held (before its hit) are
// left where they are: bringing back a whole history's window blocks at every turn
// of a conversation would double its footprint in the cache.

// releaseGrouped releases s's blocks (Free) in grouped order, asking s's retention
// for all of them.
func (m *Manager) releaseGrouped(s *sequence) error {
	n := 0
	for g := range m.grp {
		n = max(n, len(*s.tab(g)))
	}
	list := m.hitBuf[:0]
	for j := range n {
		for g := range m.grp {
			tab := *s.tab(g)
			if j >= len(tab) {
				continue
			}
			if id := tab[j]; id != NullBlock {
				list = append(list, id)
			} else if j >= m.skipBlocks(g, min(s.claimAt, s.relAt)) {
				id, ok := m.releasedBlock(s, g, j)
				if !ok {
					continue
				}
				_ = m.pool.Retain(id) // cannot fail: a cached block in range; released below
				list = append(list, id)
			}
		}
	}
	m.hitBuf = list
	return m.pool.ReleaseTableWith(list, m.retention(s))
}

// releasedBlock returns a free cached block with the content of the block windowed
// group g of s released at position j (the block itself, or any equal copy), if
// there is one.
func (m *Manager) releasedBlock(s *sequence, g, j int) (blockpool.BlockID, bool) {
	if j >= s.numCached || m.grp[g].kind == FullAttention { // never registered; never released
		return NullBlock, false
	}
	id, ok := m.pool.Lookup(m.groupKey(&s.chain, s.tokens, j, g, m.fpIdent(&s.chain, s.fps, j-1)))
	if !ok || m.pool.RefCount(id) > 0 {
		return NullBlock, false
	}
	return id, true
}
