package paged

import (
	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// The prefix hit of a hybrid model (vLLM's HybridKVCacheCoordinator.find_longest_cache_hit).
//
// A hit of n blocks is valid for group g when every block group g still needs at
// that point is cached in group g: blocks [skip_g(n), n), where skip_g is 0 for full
// attention (every block), n − ceil((W−1)/BlockSize) for a sliding window W (the
// blocks the next token's window reaches; the whole run from block 0 when n is
// shorter than that), and the first block of the current chunk for chunked local
// attention. The hit is the longest n ≤ the cap valid for every group at once.
//
// Full-attention groups are walked left to right once (their validity is downward
// closed: a hit of n blocks is valid for every shorter length). Each windowed group
// then answers the longest valid length not above the current candidate, scanning
// right to left from it; a miss at block j rules out every length in (j, candidate],
// so the scan restarts at j. If any group shortened the candidate, the windowed
// groups are asked again, until none does (with one windowed group once is enough).
// The candidate only decreases and every valid length stays below it, so the fixed
// point is the longest length valid for all groups. Each block of each group is
// probed at most once per lookup: scan results are kept per group (lookup.gids).

// Scan states in lookup.gids besides block ids.
const (
	scanMiss    = blockpool.NoBlock // probed: not cached
	scanUnknown = -2                // not probed yet
)

// findHybrid fills m.look with the hybrid hit of a prompt (chain c, fingerprints
// fps, tokens) of at most maxBlocks blocks, and the claim it implies: per group the
// hit blocks [skip_g(n), n), how many of them are free (revived) and how many other
// sequences hold (held). It changes nothing.
func (m *Manager) findHybrid(c *prefix.Chain, fps []uint64, tokens []int32, maxBlocks int) *lookup {
	l := &m.look
	l.hostHits, l.revived, l.held, l.dropped, l.hyb = 0, 0, 0, false, true
	l.dropPartial()
	l.hits = l.hits[:0]
	if len(l.gids) < len(m.grp) {
		l.gids = make([][]blockpool.BlockID, len(m.grp))
	}
	n := min(maxBlocks, c.Len())
	if !m.caching() || n <= 0 {
		l.nhit = 0
		return l
	}
	for g := range m.grp {
		ids := l.gids[g][:0]
		for range n {
			ids = append(ids, scanUnknown)
		}
		l.gids[g] = ids
	}
	for _, g := range m.full {
		n = m.walkFull(l.gids[g], g, c, tokens, n)
	}
	for {
		cand := n
		for _, g := range m.wins {
			n = m.scanWindow(l.gids[g], g, c, fps, tokens, n)
		}
		if n == cand || len(m.wins) == 1 {
			break
		}
	}
	l.nhit = n
	for g := range m.grp {
		for _, id := range l.gids[g][m.skipBlocks(g, n*m.bs):n] {
			if m.pool.RefCount(id) == 0 {
				l.revived++
			} else {
				l.held++
			}
		}
	}
	return l
}

// groupKey is the cache key of block j of a chain in group g, with parent identity
// parent.
func (m *Manager) groupKey(c *prefix.Chain, tokens []int32, j, g int, parent uint64) blockpool.Key {
	return blockpool.Key{Hash: uint64(c.Hash(j)), Parent: parent, Tokens: tokens[j*m.bs : (j+1)*m.bs],
		Extra: c.ExtraFingerprint(j), Group: uint32(g)}
}

// walkFull probes full-attention group g's blocks 0, 1, … (at most n), each under
// the identity of the one before, records them in ids and returns how many hit.
func (m *Manager) walkFull(ids []blockpool.BlockID, g int, c *prefix.Chain, tokens []int32, n int) int {
	var parent uint64
	for j := range n {
		id, ident, ok := m.pool.LookupIdentity(m.groupKey(c, tokens, j, g, parent))
		if !ok {
			ids[j] = scanMiss
			return j
		}
		ids[j], parent = id, ident
	}
	return n
}

// scanWindow returns the longest hit length ≤ n valid for windowed group g: the
// largest n' whose blocks [skip_g(n'), n') are all cached in g. ids holds the blocks
// probed so far (by earlier rounds of the fixed point too).
func (m *Manager) scanWindow(ids []blockpool.BlockID, g int, c *prefix.Chain, fps []uint64, tokens []int32, n int) int {
	for n > 0 {
		lo := m.skipBlocks(g, n*m.bs)
		j := n - 1
		for ; j >= lo; j-- {
			if ids[j] == scanUnknown {
				ids[j] = scanMiss
				if id, ok := m.pool.Lookup(m.groupKey(c, tokens, j, g, m.fpIdent(c, fps, j-1))); ok {
					ids[j] = id
				}
			}
			if ids[j] == scanMiss {
				break
			}
		}
		if j < lo {
			return n
		}
		n = j // the miss at j rules out every length in (j, n]
	}
	return 0
}

// claimHybrid starts an unstarted sequence on hybrid lookup l (held by begin): each
// group's table becomes NullBlock for the blocks it no longer needs followed by its
// hit blocks, and the n hit blocks count as computed and cached.
func (m *Manager) claimHybrid(s *sequence, l *lookup) Reservation {
	n := l.nhit
	for g := range m.grp {
		tab := s.tab(g)
		skip := m.skipBlocks(g, n*m.bs)
		for range skip {
			*tab = append(*tab, NullBlock)
		}
		*tab = append(*tab, l.gids[g][skip:n]...)
	}
	s.computed, s.numCached, s.claimed, s.relAt, s.claimAt = n*m.bs, n, true, n*m.bs, n*m.bs
	s.nextRel = m.nextRelease(s)
	if m.caching() {
		m.stats.record(len(s.tokens), s.computed)
	}
	return Reservation{Claimed: s.computed}
}

// holdHybrid takes a reference on every block a hybrid claim takes over.
func (m *Manager) holdHybrid(l *lookup) {
	for g := range m.grp {
		for _, id := range l.gids[g][m.skipBlocks(g, l.nhit*m.bs):l.nhit] {
			_ = m.pool.Retain(id) // cannot fail: hits are in range
		}
	}
}

// requiredBlocks is the admission estimate of the blocks a sequence of tokens
// tokens (plus lookahead) needs beyond lookup l's hits that others hold, when its
// first reservation covers n new tokens: the whole sequence for a full-attention
// group, at most the blocks a window (or chunk) and n+lookahead tokens span for a
// windowed one (vLLM's recycling-aware admission cap). It is at least what the
// claim and the first reservation take.
func (m *Manager) requiredBlocks(tokens int, l *lookup, n, lookahead int) int {
	whole := m.blocksFor(tokens + lookahead)
	if !m.hybrid {
		return whole - (len(l.hits) - l.hostHits - l.revived)
	}
	req := 0
	for g := range m.grp {
		req += min(whole, m.spanBlocks(g, n+lookahead))
	}
	if l != nil {
		req -= l.held
	}
	return req
}
