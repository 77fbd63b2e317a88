package paged

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// newGrouped is newHybrid with Config.GroupedEviction set to on and the AllToTail
// release policy (so uncached partial blocks keep their place in the order too).
func newGrouped(t testing.TB, n, bs int, on bool, groups ...KVGroup) *Manager {
	t.Helper()
	return newMgr(t, n, bs, func(c *Config) {
		c.Groups, c.Watermark, c.DisableWatermark, c.GroupedEviction = groups, 0, true, on
		c.ReleasePolicy = AllToTail{}
	})
}

// grouped is the release list GroupedEviction builds from a sequence's tables:
// position by position, every group's block side by side, a released window entry
// (NullBlock) replaced by the block it held (back[g][j]) when back has one.
func grouped(tabs [][]int32, back [][]int32) []int32 {
	var out []int32
	for j := range tabs[0] {
		for g := range tabs {
			switch {
			case tabs[g][j] != NullBlock:
				out = append(out, tabs[g][j])
			case back[g] != nil && back[g][j] != NullBlock:
				out = append(out, back[g][j])
			}
		}
	}
	return out
}

// track records in held, by position, the blocks a table holds at new positions.
func track(held, tab []int32) []int32 {
	return append(held, tab[len(held):]...)
}

// tail returns the last n entries of the free queue, in eviction order.
func tail(m *Manager, n int) []int32 {
	q := m.FreeQueue(nil)
	return q[len(q)-n:]
}

// reversed returns a reversed copy of s.
func reversed(s []int32) []int32 {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// With GroupedEviction, Free releases a sequence's blocks position by position in
// every group, the last position first, and the window blocks it released
// mid-sequence rejoin the queue at their positions; without it, each group's table
// goes in turn and released window blocks stay where they were.
func TestGroupedEvictionOrder(t *testing.T) {
	for _, on := range []bool{false, true} {
		m := newGrouped(t, 64, 2, on, fullGroup(), sw(3))
		id, _ := admitWhole(t, m, span(0, 10))
		var held []int32 // every block the window group's table held, by position
		for i := range 6 {
			held = track(held, tableG(t, m, id, 1))
			if i < 5 {
				decode(t, m, id, int32(100+i))
			}
		}
		full, win := tableG(t, m, id, 0), tableG(t, m, id, 1)
		require.Equal(t, 6, countNull(win), "positions 0..11 left the window")
		require.NoError(t, m.Free(id))
		inv(t, m)
		if !on {
			live := win[countNull(win):]
			require.Equal(t, slices.Concat(reversed(full), reversed(live)), tail(m, len(full)+len(live)))
			q := m.FreeQueue(nil)
			for _, w := range held[:6] { // released mid-sequence: evicted before every full block
				require.Less(t, slices.Index(q, w), slices.Index(q, full[len(full)-1]))
			}
			continue
		}
		want := grouped([][]int32{full, win}, [][]int32{nil, held})
		require.Len(t, want, 2*len(full))
		require.Equal(t, reversed(want), tail(m, len(want)))
	}
}

// A sequence brings back only the window blocks it held itself: those before its
// hit were released by another sequence and stay where they are. A window block that
// was evicted (or is held again by another sequence) is not brought back.
func TestGroupedEvictionOwnBlocksOnly(t *testing.T) {
	m := newGrouped(t, 64, 2, true, fullGroup(), sw(3))
	a, _ := admitWhole(t, m, span(0, 10))
	decode(t, m, a, 100)
	require.NoError(t, m.Free(a))

	b, hit := admitWhole(t, m, slices.Concat(span(0, 10), span(50, 6)))
	require.Equal(t, 10, hit)
	held := tableG(t, m, b, 1)
	require.Equal(t, 4, countNull(held), "positions before the hit's window never held")
	for i := range 4 {
		decode(t, m, b, int32(200+i))
		held = track(held, tableG(t, m, b, 1))
	}
	full, win := tableG(t, m, b, 0), tableG(t, m, b, 1)
	back := slices.Clone(held)
	// Another sequence holds one of b's released blocks: it is not b's to release.
	c, _ := admitWhole(t, m, slices.Concat(span(0, 10), span(50, 2)))
	cw := tableG(t, m, c, 1)
	require.Equal(t, held[4], cw[4], "c hit the block b released at position 4")
	back[4] = NullBlock
	require.NoError(t, m.Free(b))
	inv(t, m)
	want := slices.DeleteFunc(grouped([][]int32{full, win}, [][]int32{nil, back}),
		func(id int32) bool { return m.Pool().RefCount(id) > 0 }) // c's hits stay held
	require.Equal(t, reversed(want), tail(m, len(want)))
	require.NoError(t, m.Free(c))
	inv(t, m)
}

// Without a windowed group, or without prefix caching, GroupedEviction changes
// nothing: the same operations leave the same free queue and tables.
func TestGroupedEvictionNoEffect(t *testing.T) {
	for _, tc := range []struct {
		groups  []KVGroup
		caching bool
	}{{[]KVGroup{fullGroup(), fullGroup()}, true}, {[]KVGroup{fullGroup(), sw(3)}, false}} {
		var queues [2][]int32
		for i, on := range []bool{false, true} {
			m := newMgr(t, 64, 2, func(c *Config) {
				c.Groups, c.Watermark, c.DisableWatermark, c.GroupedEviction = tc.groups, 0, true, on
				c.DisablePrefixCaching = !tc.caching
			})
			a, _ := admitWhole(t, m, span(0, 10))
			b, _ := admitWhole(t, m, span(0, 14))
			for k := range 5 {
				decode(t, m, a, int32(100+k))
				decode(t, m, b, int32(200+k))
			}
			require.NoError(t, m.Free(a))
			require.NoError(t, m.Free(b))
			inv(t, m)
			queues[i] = m.FreeQueue(nil)
		}
		require.Equal(t, queues[0], queues[1], "%+v", tc)
	}
}
