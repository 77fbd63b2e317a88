package attention

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// With a sliding window the kernels never touch the table entries of blocks wholly
// before the window: a paged manager's null entry (−1, which would fault), or a
// real block full of NaN (which would poison any sum it entered), give exactly the
// output of the intact table.
func TestWindowNeverReadsReleasedBlocks(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		checkNeverReadsReleased(t, localMask{name: "window", seed: 31, params: func(n int) Params { return Params{Window: n} },
			ref: func(q, k, v []float32, qh, kvh, d int, pos []int, scale float64, p Params) []float64 {
				return Reference(q, k, v, qh, kvh, d, pos, scale, p.Window)
			}})
	})
}

// localMask is a local attention mask under test: a sliding window or a chunk.
type localMask struct {
	name   string
	seed   uint64
	params func(n int) Params // the mask of size n (QHeads is set by the caller)
	ref    func(q, k, v []float32, qHeads, kvHeads, d int, pos []int, scale float64, p Params) []float64
}

// checkNeverReadsReleased checks that a local mask's kernels never touch the table
// entries of blocks wholly before the earliest query's first key (Params.firstKey):
// a null entry, out-of-range ids or a real block full of NaN there give exactly the
// output of the intact table; an invalid entry in the block of the first key is
// refused, not read.
func checkNeverReadsReleased(t *testing.T, m localMask) {
	r := rand.New(rand.NewPCG(m.seed, m.seed+1))
	k := NewKernel(3)
	defer k.Close()
	for trial := range 40 {
		dt := DType(trial % 4)
		kvHeads, group := 1+r.IntN(2), []int{1, 2}[r.IntN(2)]
		cfg := Config{Layers: 1, KVHeads: kvHeads, HeadDim: []int{8, 16, 32}[r.IntN(3)], BlockSize: []int{1, 2, 4, 16}[r.IntN(4)],
			NumBlocks: 300, DType: dt}
		c, err := NewCache(cfg)
		require.NoError(t, err)
		n := 2 + r.IntN(150)
		s := fill(t, c, r, []int{n})[0]
		// A spare block, not in the sequence's table, filled with NaN.
		poison := int32(cfg.NumBlocks - 1)
		for slices.Contains(s.table, poison) {
			poison--
		}
		nan := make([]float32, cfg.BlockSize*cfg.KVHeads*cfg.HeadDim)
		for i := range nan {
			nan[i] = float32(math.NaN())
		}
		slots := make([]int64, cfg.BlockSize)
		for i := range slots {
			slots[i] = int64(poison)*int64(cfg.BlockSize) + int64(i)
		}
		require.NoError(t, c.Write(0, slots, nan, nan))
		p := m.params(1 + r.IntN(40))
		p.QHeads = kvHeads * group
		d := cfg.HeadDim

		// Decode at the last position.
		q := make([]float32, p.QHeads*d)
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
		want := make([]float32, len(q))
		require.NoError(t, k.Decode(c, 0, p, q, [][]int32{s.table}, []int{n}, want))
		released := p.firstKey(n-1) / cfg.BlockSize
		for _, null := range []int32{-1, poison, math.MinInt32, math.MaxInt32} {
			tb := append([]int32(nil), s.table...)
			for j := range released {
				tb[j] = null
			}
			got := make([]float32, len(q))
			name := fmt.Sprintf("trial %d decode n %d %s %+v bs %d null %d", trial, n, m.name, p, cfg.BlockSize, null)
			require.NoError(t, k.Decode(c, 0, p, q, [][]int32{tb}, []int{n}, got), name)
			require.Equal(t, want, got, name)
		}
		tb := append([]int32(nil), s.table...)
		tb[released] = -1 // the block holding the first key: refused, not read
		require.ErrorIs(t, k.Decode(c, 0, p, q, [][]int32{tb}, []int{n}, make([]float32, len(q))), ErrOutOfRange)

		// Prefill of [start, n), which may span window or chunk boundaries: released =
		// the blocks before the first query's first key.
		start := r.IntN(n)
		q = make([]float32, (n-start)*p.QHeads*d)
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
		want = make([]float32, len(q))
		require.NoError(t, k.Prefill(c, 0, p, q, s.table, start, n-start, want))
		pos := make([]int, n-start)
		for i := range pos {
			pos[i] = start + i
		}
		ref := m.ref(q, s.kStore, s.vStore, p.QHeads, kvHeads, d, pos, 1/math.Sqrt(float64(d)), p)
		require.Less(t, maxDiff(want, ref), kernelTol)
		released = p.firstKey(start) / cfg.BlockSize
		for _, null := range []int32{-1, poison} {
			tb := append([]int32(nil), s.table...)
			for j := range released {
				tb[j] = null
			}
			got := make([]float32, len(q))
			name := fmt.Sprintf("trial %d prefill [%d,%d) %s %+v bs %d null %d", trial, start, n, m.name, p, cfg.BlockSize, null)
			require.NoError(t, k.Prefill(c, 0, p, q, tb, start, n-start, got), name)
			require.Equal(t, want, got, name)
		}
	}
}
