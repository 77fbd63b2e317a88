package paged

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// cacheSubset caches, for prompt, the blocks keep[g][j] of each group directly in
// the pool (as sequences that computed them and left would have), and releases
// them: a cache with arbitrary holes per group.
func (m *Manager) cacheSubset(t testing.TB, prompt []int32, keep [][]bool) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.scheme.NewChain(prefix.Extras{})
	c.Extend(prompt)
	fps := extendFingerprints(nil, &c, prompt, m.bs)
	for g := range m.grp {
		var idents []uint64
		for range c.Len() {
			idents = append(idents, m.newIdent())
		}
		for j := range c.Len() {
			if !keep[g][j] {
				continue
			}
			parent, ident := uint64(0), idents[j]
			if j > 0 {
				parent = idents[j-1]
			}
			if m.grp[g].kind != FullAttention {
				parent, ident = m.fpIdent(&c, fps, j-1), m.fpIdent(&c, fps, j)
			}
			ids, err := m.pool.Allocate(nil, 1)
			require.NoError(t, err)
			_, err = m.pool.Cache(ids[0], m.groupKey(&c, prompt, j, g, parent), ident)
			require.NoError(t, err)
			require.NoError(t, m.pool.Release(ids))
		}
	}
}

// The hybrid hit equals the brute-force longest length valid for every group, on
// caches with random holes in every group (the fixed point, the right-to-left scans
// and their restarts), and an admission claims exactly it.
func TestHybridHitMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	multi := 0
	for trial := range 3000 {
		bs := 1 + rng.IntN(4)
		groups := fuzzGroupSet(byte(rng.IntN(256)), bs)
		nb := 1 + rng.IntN(12)
		prompt := span(rng.IntN(1000), nb*bs+1+rng.IntN(bs))
		m := newHybrid(t, 4*nb*len(groups)+8, bs, groups...)
		keep := make([][]bool, len(groups))
		p := rng.Float64()
		for g := range keep {
			keep[g] = make([]bool, nb+1)
			for j := range keep[g] {
				keep[g][j] = rng.Float64() < p
			}
		}
		m.cacheSubset(t, prompt, keep)
		inv(t, m)
		id, err := m.Add(prompt, SeqOptions{})
		require.NoError(t, err)
		want := m.oracleHit(id)
		got, err := m.CachedPrefix(id)
		require.NoError(t, err)
		name := fmt.Sprintf("trial %d: groups %v, bs %d, keep %v", trial, groups, bs, keep)
		require.Equal(t, want, got, name)
		lp, err := m.LookupPrompt(prompt, SeqOptions{})
		require.NoError(t, err)
		require.Equal(t, want, lp, name)
		adm, err := m.Admit(id, len(prompt), 0, nil)
		require.NoError(t, err)
		require.Equal(t, AdmitNow, adm.Admission, name)
		require.Equal(t, want, adm.Claimed, name)
		inv(t, m)
		require.NoError(t, m.Free(id))
		inv(t, m)
		if len(m.wins) > 1 && want > 0 {
			multi++
		}
	}
	require.Greater(t, multi, 50, "hits over several windowed groups")
}

// Two windows: the second group's answer forces a second round in which the first
// group shortens the hit again (the fixed point, not one pass).
func TestHybridHitTwoWindowsNeedsSecondRound(t *testing.T) {
	prompt := span(0, 11) // at most 5 hit blocks; group 0 needs 1 block, group 1 needs 2
	for _, tc := range []struct {
		keep [2][]int
		want int
	}{
		// Round 1: group 0 at 5 (block 4) → 5; group 1 at 5 needs 3, 4: miss 3 → 3
		// (blocks 1, 2). Round 2: group 0 at 3 needs block 2: miss → 2 (block 1);
		// group 1 at 2 needs 0, 1: miss 0 → 0.
		{[2][]int{{1, 4}, {1, 2, 4}}, 0},
		// With group 1's block 0 the fixed point stops at 2.
		{[2][]int{{1, 4}, {0, 1, 2, 4}}, 4},
	} {
		m := newHybrid(t, 64, 2, sw(3), sw(5))
		keep := [][]bool{make([]bool, 6), make([]bool, 6)}
		for g, js := range tc.keep {
			for _, j := range js {
				keep[g][j] = true
			}
		}
		m.cacheSubset(t, prompt, keep)
		hit, err := m.LookupPrompt(prompt, SeqOptions{})
		require.NoError(t, err)
		require.Equal(t, tc.want, hit, "keep %v", tc.keep)
	}
}
