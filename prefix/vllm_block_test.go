package prefix

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSelectMMFollowsVLLMScan(t *testing.T) {
	items := []MMItem{{ID: "a", Offset: 5, Length: 30}, {ID: "b", Offset: 40, Length: 4}, {ID: "c", Offset: 44, Length: 4}}
	type step struct {
		start, end, cursor int
		sel                []int32
		next               int
	}
	for _, s := range []step{
		{0, 16, 0, []int32{0}, 0},        // a starts in block 0 and goes on
		{16, 32, 0, []int32{0}, 0},       // still inside a
		{32, 48, 0, []int32{0, 1, 2}, 3}, // a ends, b and c lie inside
		{48, 64, 3, nil, 3},              // every item ended before the block: early exit
		{32, 48, -1, []int32{2}, 3},      // the incremental quirk: only the last item
		{0, 4, 0, nil, 0},                // the block has not reached a
	} {
		sel, next := selectMM(nil, items, s.start, s.end, s.cursor)
		require.Equal(t, s.sel, sel, "%+v", s)
		require.Equal(t, s.next, next, "%+v", s)
	}
	// An item ending exactly on the boundary belongs to the earlier block only.
	one := []MMItem{{ID: "x", Offset: 8, Length: 8}}
	sel, next := selectMM(nil, one, 0, 16, 0)
	require.Equal(t, []int32{0}, sel)
	sel, _ = selectMM(nil, one, 16, 32, next)
	require.Empty(t, sel)
	// Nested items: vLLM's scan stops at the first item that goes on past the block,
	// so an item nested inside it is never selected; and once the LAST item has
	// ended, its early exit selects nothing, not even the enclosing item. The plain
	// overlap rule would give {outer, inner}, {outer}, {outer}.
	nested := []MMItem{{ID: "outer", Offset: 0, Length: 40}, {ID: "inner", Offset: 2, Length: 4}}
	cursor := 0
	for i, want := range [][]int32{{0}, nil, nil} {
		sel, cursor = selectMM(nil, nested, 16*i, 16*i+16, cursor)
		require.Equal(t, want, sel, "block %d", i)
	}
}

// For sorted items that do not overlap each other, a one-shot scan selects exactly
// the items that overlap each block (the rule vLLM documents).
func TestSelectMMDisjointItemsIsOverlap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		var items []MMItem
		for off := r.IntN(20); off < 300 && len(items) < 8; {
			l := 1 + r.IntN(40)
			items = append(items, MMItem{ID: "i", Offset: off, Length: l})
			off += l + r.IntN(20)
		}
		bs := 1 + r.IntN(32)
		cursor := 0
		for start := 0; start < 400; start += bs {
			var sel []int32
			sel, cursor = selectMM(sel, items, start, start+bs, cursor)
			var want []int32
			for i, it := range items {
				if start+bs > it.Offset && start < it.Offset+it.Length {
					want = append(want, int32(i))
				}
			}
			require.Equal(t, want, sel, "items %v block %d+%d", items, start, bs)
		}
	}
}
