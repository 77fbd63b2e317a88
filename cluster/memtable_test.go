package cluster

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The table against a Go map under random inserts and deletes, with keys that
// collide often (few distinct high bits), checking probe runs after every step.
func TestHashTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tab hashTable
	tab.init()
	ref := map[uint64]int32{}
	for op := range 20000 {
		h := uint64(rng.IntN(300)) << 40 // many share a home slot
		if rng.IntN(7) == 0 {
			h = rng.Uint64()
		}
		if idx, ok := ref[h]; ok {
			require.Equal(t, idx, tab.lookup(h))
			if rng.IntN(2) == 0 {
				tab.delete(h)
				delete(ref, h)
			}
		} else {
			require.Equal(t, int32(-1), tab.lookup(h))
			tab.insert(h, int32(op))
			ref[h] = int32(op)
		}
		if op%97 == 0 {
			require.True(t, tab.checkInvariants(), "op %d", op)
		}
	}
	require.True(t, tab.checkInvariants())
	require.Equal(t, len(ref), tab.n)
	n := 0
	tab.each(func(ts *tslot) {
		require.Equal(t, ref[ts.hash], ts.idx-1)
		n++
	})
	require.Equal(t, len(ref), n)
}
