package blockpool

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The open-addressing table behaves like a Go map under random churn, including keys
// that collide in their home slot.
func TestHashTableAgainstMap(t *testing.T) {
	for _, keys := range []int{3, 50, 1000} {
		r := rand.New(rand.NewPCG(uint64(keys), 1))
		tb := newHashTable(keys)
		ref := map[uint64]BlockID{}
		key := func() uint64 {
			if r.IntN(3) == 0 {
				return uint64(r.IntN(keys)) << 58 // few distinct high bits: shared homes
			}
			return uint64(r.IntN(2 * keys))
		}
		for range 20000 {
			h := key()
			switch r.IntN(3) {
			case 0, 1:
				if _, ok := ref[h]; ok || len(ref) < keys {
					id := BlockID(r.IntN(1000))
					tb.set(h, id)
					ref[h] = id
				}
			case 2:
				tb.del(h)
				delete(ref, h)
			}
			require.Equal(t, len(ref), tb.len())
			if keys < 1000 || r.IntN(64) == 0 {
				require.NoError(t, tb.check())
			}
		}
		for h, id := range ref {
			got, ok := tb.get(h)
			require.True(t, ok)
			require.Equal(t, id, got)
		}
		seen := 0
		tb.each(func(h uint64, id BlockID) {
			seen++
			require.Equal(t, ref[h], id)
		})
		require.Equal(t, len(ref), seen)
		_, ok := tb.get(1<<63 | 12345) // never inserted
		require.False(t, ok)
		tb.reset()
		require.Zero(t, tb.len())
	}
}
