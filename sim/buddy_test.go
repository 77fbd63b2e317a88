package sim

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBuddySplitMergeAndRounding(t *testing.T) {
	b := NewBuddy(16)
	a, ok := b.Alloc(3) // rounds to 4
	require.True(t, ok)
	require.Equal(t, 0, a)
	c, _ := b.Alloc(4)
	require.Equal(t, 4, c)
	d, _ := b.Alloc(8)
	require.Equal(t, 8, d)
	require.Equal(t, 16, b.Used())
	_, ok = b.Alloc(1)
	require.False(t, ok)
	b.Free(a)
	b.Free(c)
	require.Equal(t, 8, b.LargestFree(), "0..3 and 4..7 merge into one 8-block")
	b.Free(d)
	require.Equal(t, 16, b.LargestFree())
	require.Zero(t, b.Used())
}

func TestBuddyNonPowerOfTwoCapacityAndFragmentation(t *testing.T) {
	b := NewBuddy(12) // roots of 8 and 4
	x, _ := b.Alloc(4)
	y, _ := b.Alloc(4)
	z, _ := b.Alloc(4)
	require.ElementsMatch(t, []int{0, 4, 8}, []int{x, y, z})
	b.Free(x)
	b.Free(z)
	// 8 slots free but no 8-block: external fragmentation.
	_, ok := b.Alloc(5)
	require.False(t, ok)
	b.Free(y)
	_, ok = b.Alloc(5)
	require.True(t, ok)
}

func TestBuddyRandomNeverOverlaps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := NewBuddy(1000)
	owner := make([]int, 1000)
	live := map[int]int{}
	for i := 1; i < horizon(5000, 1000); i++ {
		if r.IntN(2) == 0 && len(live) > 0 {
			for off, n := range live {
				b.Free(off)
				for s := off; s < off+n; s++ {
					owner[s] = 0
				}
				delete(live, off)
				break
			}
			continue
		}
		n := 1 + r.IntN(100)
		off, ok := b.Alloc(n)
		if !ok {
			continue
		}
		size := 1 << orderFor(n)
		require.LessOrEqual(t, off+size, 1000)
		for s := off; s < off+size; s++ {
			require.Zero(t, owner[s], "slot %d allocated twice", s)
			owner[s] = i
		}
		live[off] = size
	}
}
