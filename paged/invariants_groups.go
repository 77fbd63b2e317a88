package paged

import (
	"fmt"
	"slices"
)

// checkGroups checks one live, started or unstarted, device sequence of a manager
// with KV-cache groups and counts its blocks into refs (see CheckInvariants).
func (m *Manager) checkGroups(i int, s *sequence, refs []int) error {
	bs := m.bs
	if len(s.more) != len(m.grp)-1 {
		return fmt.Errorf("seq %d: %d extra tables for %d groups", i, len(s.more), len(m.grp))
	}
	if s.relAt < 0 || s.relAt > s.computed {
		return fmt.Errorf("seq %d: windows released at %d, computed %d", i, s.relAt, s.computed)
	}
	if s.nextRel != m.nextRelease(s) {
		return fmt.Errorf("seq %d: next release at %d, want %d", i, s.nextRel, m.nextRelease(s))
	}
	for _, g := range m.wins { // nothing to release before nextRel, something at it
		if s.nextRel > s.relAt && m.skipBlocks(g, s.nextRel-1) > m.skipBlocks(g, s.relAt) {
			return fmt.Errorf("seq %d: group %d releases before %d", i, g, s.nextRel)
		}
	}
	if m.ownFps {
		want := extendFingerprints(nil, &s.chain, s.tokens, bs)
		if !slices.Equal(want, s.fps) {
			return fmt.Errorf("seq %d: %d prefix fingerprints for %d chain blocks, or wrong ones", i, len(s.fps), s.chain.Len())
		}
	} else if len(s.fps) != 0 {
		return fmt.Errorf("seq %d: own fingerprints without a windowed group or with a prefix hasher", i)
	}
	for g := range m.grp {
		tab := *s.tab(g)
		if len(tab) != len(s.table) {
			return fmt.Errorf("seq %d: group %d's table has %d entries, group 0's %d", i, g, len(tab), len(s.table))
		}
		live := m.liveFrom(s, g)
		windowed := m.grp[g].kind != FullAttention
		for j, b := range tab {
			if j < live {
				if b != NullBlock {
					return fmt.Errorf("seq %d group %d entry %d: block %d outside the window (released at %d), want NullBlock", i, g, j, b, s.relAt)
				}
				continue
			}
			if b < 0 || int(b) >= len(refs) {
				return fmt.Errorf("seq %d group %d entry %d: %d is not a block (window starts at entry %d)", i, g, j, b, live)
			}
			refs[b]++
			k, ident, cached := m.pool.CachedKey(b)
			if j < s.numCached {
				var parent, wantIdent uint64
				switch {
				case windowed:
					parent, wantIdent = m.fpIdent(&s.chain, s.fps, j-1), m.fpIdent(&s.chain, s.fps, j)
				case j > 0:
					parent, wantIdent = m.pool.Identity(tab[j-1]), ident
				default:
					wantIdent = ident
				}
				if !cached || k.Hash != uint64(s.chain.Hash(j)) || k.Parent != parent || k.Group != uint32(g) ||
					ident == 0 || ident != wantIdent || !slices.Equal(k.Tokens, s.tokens[j*bs:(j+1)*bs]) {
					return fmt.Errorf("seq %d group %d block %d (id %d): registered but cached %v hash %x group %d parent %x ident %x",
						i, g, j, b, cached, k.Hash, k.Group, k.Parent, ident)
				}
			}
			lo, hi := j*bs, (j+1)*bs
			if max(lo, s.computed) < min(hi, s.reserved) && j >= s.numCached && (cached || m.pool.RefCount(b) > 1) {
				return fmt.Errorf("seq %d group %d block %d (id %d): writable [%d,%d) but shared (ref %d) or cached (%v)",
					i, g, j, b, s.computed, s.reserved, m.pool.RefCount(b), cached)
			}
		}
	}
	return nil
}
