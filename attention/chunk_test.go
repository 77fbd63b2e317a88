package attention

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Chunked local attention matches the float64 reference with the chunk mask, for
// decode at every kind of position (a chunk's first, inside, last) and for prefills
// that span one or several chunk boundaries, in every element type.
func TestChunkMatchesReference(t *testing.T) { forEachPath(t, checkChunkMatchesReference) }

func checkChunkMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	k := NewKernel(3)
	defer k.Close()
	for trial := range 48 {
		dt := DType(trial % 4)
		kvHeads, group := 1+r.IntN(2), []int{1, 2, 3}[r.IntN(3)]
		cfg := Config{Layers: 1, KVHeads: kvHeads, HeadDim: []int{8, 16, 32}[r.IntN(3)], BlockSize: []int{1, 4, 16}[r.IntN(3)],
			NumBlocks: 400, DType: dt}
		c, err := NewCache(cfg)
		require.NoError(t, err)
		n := 1 + r.IntN(300)
		s := fill(t, c, r, []int{n})[0]
		p := Params{QHeads: kvHeads * group, Scale: 0.3, Chunk: []int{1, 3, 16, 37, 64, 200}[r.IntN(6)]}
		d := cfg.HeadDim

		// Decode: several sequences at once would share the same store; decode the
		// one sequence at lengths ending at a chunk's first, last and an inner position.
		for _, ctx := range []int{n, min(n, p.Chunk), min(n, p.Chunk+1), max(1, n-n%p.Chunk)} {
			q := make([]float32, p.QHeads*d)
			for i := range q {
				q[i] = float32(r.NormFloat64())
			}
			out := make([]float32, len(q))
			require.NoError(t, k.Decode(c, 0, p, q, [][]int32{s.table}, []int{ctx}, out))
			ref := ReferenceChunked(q, s.kStore, s.vStore, p.QHeads, kvHeads, d, []int{ctx - 1}, 0.3, p.Chunk)
			require.Less(t, maxDiff(out, ref), kernelTol, "trial %d %v decode ctx %d chunk %d", trial, dt, ctx, p.Chunk)
			// and against the unrounded K/V within the element type's bound
			orig := ReferenceChunked(q, s.k, s.v, p.QHeads, kvHeads, d, []int{ctx - 1}, 0.3, p.Chunk)
			require.Less(t, maxDiff(out, orig), storageTol[dt], "trial %d %v decode ctx %d chunk %d (storage)", trial, dt, ctx, p.Chunk)
		}

		// Prefill [start, n): start just before a boundary when there is one, so the
		// query tiles straddle it.
		start := r.IntN(n)
		if b := (start/p.Chunk + 1) * p.Chunk; b < n && r.IntN(2) == 0 {
			start = max(0, b-1-r.IntN(min(b, 5)))
		}
		q := make([]float32, (n-start)*p.QHeads*d)
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
		out := make([]float32, len(q))
		require.NoError(t, k.Prefill(c, 0, p, q, s.table, start, n-start, out))
		pos := make([]int, n-start)
		for i := range pos {
			pos[i] = start + i
		}
		ref := ReferenceChunked(q, s.kStore, s.vStore, p.QHeads, kvHeads, d, pos, 0.3, p.Chunk)
		require.Less(t, maxDiff(out, ref), kernelTol, "trial %d %v prefill [%d,%d) chunk %d bs %d", trial, dt, start, n, p.Chunk, cfg.BlockSize)
	}
}

// The chunk mask really differs from full attention: a query just after a chunk
// boundary sees only itself, so its output is its own value vector.
func TestChunkFirstPositionSeesOnlyItself(t *testing.T) { forEachPath(t, checkChunkFirstPosition) }

func checkChunkFirstPosition(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	k := NewKernel(2)
	defer k.Close()
	cfg := Config{Layers: 1, KVHeads: 1, HeadDim: 16, BlockSize: 4, NumBlocks: 40}
	c, err := NewCache(cfg)
	require.NoError(t, err)
	s := fill(t, c, r, []int{41})[0]
	q := make([]float32, 16)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	for _, chunk := range []int{8, 10, 20, 40} {
		out := make([]float32, 16)
		require.NoError(t, k.Decode(c, 0, Params{Chunk: chunk}, q, [][]int32{s.table}, []int{chunk + 1}, out))
		require.InDeltaSlice(t, s.vStore[chunk*16:(chunk+1)*16], out, 1e-6, "chunk %d", chunk)
	}
	full := make([]float32, 16)
	require.NoError(t, k.Decode(c, 0, Params{}, q, [][]int32{s.table}, []int{11}, full))
	require.Greater(t, maxDiff(full, toF64(s.vStore[160:176])), 1e-3, "full attention at 10 mixes earlier values")
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// With a chunk the kernels never touch the table entries of blocks wholly before
// the chunk of the earliest query: a paged manager's null entry, out-of-range ids
// or a real block full of NaN give exactly the output of the intact table; an
// invalid entry inside the chunk is refused, not read.
func TestChunkNeverReadsReleasedBlocks(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		checkNeverReadsReleased(t, localMask{name: "chunk", seed: 45, params: func(n int) Params { return Params{Chunk: n} },
			ref: func(q, k, v []float32, qh, kvh, d int, pos []int, scale float64, p Params) []float64 {
				return ReferenceChunked(q, k, v, qh, kvh, d, pos, scale, p.Chunk)
			}})
	})
}

// A negative chunk, or a chunk together with a window, is refused before anything
// is read or written.
func TestChunkParamsRefused(t *testing.T) {
	k := NewKernel(1)
	defer k.Close()
	cfg := Config{Layers: 1, KVHeads: 1, HeadDim: 8, BlockSize: 4, NumBlocks: 4}
	c, err := NewCache(cfg)
	require.NoError(t, err)
	q := make([]float32, 8)
	for _, p := range []Params{{Chunk: -1}, {Chunk: 4, Window: 2}} {
		out := []float32{1, 2, 3, 4, 5, 6, 7, 8}
		require.ErrorIs(t, k.Decode(c, 0, p, q, [][]int32{{0}}, []int{1}, out), ErrInvalidConfig, "%+v", p)
		require.ErrorIs(t, k.Prefill(c, 0, p, q, []int32{0}, 0, 1, out), ErrInvalidConfig, "%+v", p)
		require.Equal(t, []float32{1, 2, 3, 4, 5, 6, 7, 8}, out)
	}
}
