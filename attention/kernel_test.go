package attention

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// seqKV is one sequence's keys and values: original, as stored (rounded), its table.
type seqKV struct {
	table          []int32
	k, v           []float32 // [pos][kvHeads][d] as given
	kStore, vStore []float32 // as read back from the cache
}

// fill writes random K/V for sequences of the given lengths into a cache, taking
// blocks from a shuffled free list, and returns them.
func fill(t testing.TB, c *Cache, r *rand.Rand, lens []int) []seqKV {
	cfg := c.Config()
	free := r.Perm(cfg.NumBlocks)
	hd := cfg.KVHeads * cfg.HeadDim
	var out []seqKV
	for _, n := range lens {
		var s seqKV
		nb := (n + cfg.BlockSize - 1) / cfg.BlockSize
		for range nb {
			s.table = append(s.table, int32(free[0]))
			free = free[1:]
		}
		s.k = make([]float32, n*hd)
		s.v = make([]float32, n*hd)
		for i := range s.k {
			s.k[i] = float32(r.NormFloat64())
			s.v[i] = float32(r.NormFloat64())
		}
		slots := make([]int64, n)
		for p := range n {
			slots[p] = int64(s.table[p/cfg.BlockSize])*int64(cfg.BlockSize) + int64(p%cfg.BlockSize)
		}
		// write in two chunks, like a prefill then decodes
		cut := n / 2
		require.NoError(t, c.Write(1%cfg.Layers, slots[:cut], s.k[:cut*hd], s.v[:cut*hd]))
		require.NoError(t, c.Write(1%cfg.Layers, slots[cut:], s.k[cut*hd:], s.v[cut*hd:]))
		for p := range n {
			for h := range cfg.KVHeads {
				s.kStore, s.vStore, _ = c.Read(1%cfg.Layers, h, slots[p], s.kStore, s.vStore)
			}
		}
		out = append(out, s)
	}
	return out
}

// tolerance per element type for the paged result against the float64 reference on
// the original (unrounded) K/V: storage rounding dominates.
var storageTol = map[DType]float64{Float32: 1e-4, Float16: 3e-3, BFloat16: 3e-2, FP8E4M3: 0.25}

// kernelTol bounds the kernel's own error (float32 accumulation) against the
// reference on the stored values.
const kernelTol = 1e-4

func maxDiff(a []float32, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-b[i]))
	}
	return m
}

func TestDecodeMatchesReference(t *testing.T) { forEachPath(t, checkDecodeMatchesReference) }

func checkDecodeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	k := NewKernel(3)
	defer k.Close()
	for trial := range 60 {
		dt := DType(trial % 4)
		kvHeads := 1 + r.IntN(3)
		group := []int{1, 2, 4}[r.IntN(3)]
		cfg := Config{Layers: 2, KVHeads: kvHeads, HeadDim: []int{4, 8, 16, 33, 32, 128}[r.IntN(6)],
			BlockSize: []int{1, 2, 4, 16, 80}[r.IntN(5)], NumBlocks: 400, DType: dt}
		c, err := NewCache(cfg)
		require.NoError(t, err)
		nseq := 1 + r.IntN(4)
		lens := make([]int, nseq)
		for i := range lens {
			switch r.IntN(3) {
			case 0:
				lens[i] = 1
			case 1:
				lens[i] = cfg.BlockSize * (1 + r.IntN(4)) // exact multiple
			default:
				lens[i] = 1 + r.IntN(60)
			}
		}
		seqs := fill(t, c, r, lens)
		p := Params{QHeads: kvHeads * group}
		if r.IntN(3) == 0 {
			p.Window = 1 + r.IntN(20)
		}
		d := cfg.HeadDim
		q := make([]float32, nseq*p.QHeads*d)
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
		tables := make([][]int32, nseq)
		for i := range seqs {
			tables[i] = seqs[i].table
		}
		out := make([]float32, len(q))
		require.NoError(t, k.Decode(c, 1%cfg.Layers, p, q, tables, lens, out))
		scale := 1 / math.Sqrt(float64(d))
		for i, s := range seqs {
			qi := q[i*p.QHeads*d : (i+1)*p.QHeads*d]
			oi := out[i*p.QHeads*d : (i+1)*p.QHeads*d]
			pos := []int{lens[i] - 1}
			stored := Reference(qi, s.kStore, s.vStore, p.QHeads, kvHeads, d, pos, scale, p.Window)
			orig := Reference(qi, s.k, s.v, p.QHeads, kvHeads, d, pos, scale, p.Window)
			name := fmt.Sprintf("trial %d %v cfg %+v p %+v len %d", trial, dt, cfg, p, lens[i])
			require.Less(t, maxDiff(oi, stored), kernelTol, name)
			require.Less(t, maxDiff(oi, orig), storageTol[dt], name)
		}
	}
}

func TestPrefillMatchesReference(t *testing.T) { forEachPath(t, checkPrefillMatchesReference) }

func checkPrefillMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	k := NewKernel(2)
	defer k.Close()
	for trial := range 30 {
		dt := DType(trial % 4)
		kvHeads, group := 1+r.IntN(2), []int{1, 3}[r.IntN(2)]
		cfg := Config{Layers: 1, KVHeads: kvHeads, HeadDim: []int{8, 16, 32}[r.IntN(3)], BlockSize: []int{1, 4, 16}[r.IntN(3)], NumBlocks: 300, DType: dt}
		c, _ := NewCache(cfg)
		n := 1 + r.IntN(300) // long enough for query tiles to straddle softmax chunks
		s := fill(t, c, r, []int{n})[0]
		start := r.IntN(n) // cached prefix; chunk [start, n)
		p := Params{QHeads: kvHeads * group, Scale: 0.3}
		if r.IntN(3) == 0 {
			p.Window = 1 + r.IntN(16)
		}
		d := cfg.HeadDim
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
		ref := Reference(q, s.kStore, s.vStore, p.QHeads, kvHeads, d, pos, 0.3, p.Window)
		require.Less(t, maxDiff(out, ref), kernelTol, "trial %d", trial)
	}
}

// Moving a sequence's blocks to other physical ids (and updating its table) never
// changes the output, bit for bit.
func TestPermutingBlocksChangesNothing(t *testing.T) {
	forEachPath(t, checkPermutingBlocksChangesNothing)
}

func checkPermutingBlocksChangesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cfg := Config{Layers: 1, KVHeads: 2, HeadDim: 16, BlockSize: 4, NumBlocks: 64, DType: BFloat16}
	c, _ := NewCache(cfg)
	s := fill(t, c, r, []int{37})[0]
	k := NewKernel(2)
	defer k.Close()
	p := Params{QHeads: 4}
	q := make([]float32, p.QHeads*16)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	before := make([]float32, len(q))
	require.NoError(t, k.Decode(c, 0, p, q, [][]int32{s.table}, []int{37}, before))
	// Move every block to a fresh id.
	used := map[int32]bool{}
	for _, b := range s.table {
		used[b] = true
	}
	var copies []BlockCopy
	moved := make([]int32, len(s.table))
	next := int32(0)
	for i, b := range s.table {
		for used[next] {
			next++
		}
		copies = append(copies, BlockCopy{Src: b, Dst: next})
		moved[i] = next
		next++
	}
	require.NoError(t, c.CopyBlocks(copies))
	after := make([]float32, len(q))
	require.NoError(t, k.Decode(c, 0, p, q, [][]int32{moved}, []int{37}, after))
	require.Equal(t, before, after)
}

func TestSplitContextEqualsUnsplit(t *testing.T) { forEachPath(t, checkSplitContextEqualsUnsplit) }

func checkSplitContextEqualsUnsplit(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cfg := Config{Layers: 1, KVHeads: 1, HeadDim: 32, BlockSize: 16, NumBlocks: 300, DType: Float32}
	c, _ := NewCache(cfg)
	s := fill(t, c, r, []int{4000})[0]
	p := Params{QHeads: 8}
	q := make([]float32, 8*32)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	one, many := NewKernel(1), NewKernel(4)
	defer one.Close()
	defer many.Close()
	a, b := make([]float32, len(q)), make([]float32, len(q))
	require.NoError(t, one.Decode(c, 0, p, q, [][]int32{s.table}, []int{4000}, a))
	require.NoError(t, many.Decode(c, 0, p, q, [][]int32{s.table}, []int{4000}, b))
	require.Greater(t, many.parts, 1, "one long sequence must be split across workers")
	ref := Reference(q, s.kStore, s.vStore, 8, 1, 32, []int{3999}, 1/math.Sqrt(32), 0)
	require.Less(t, maxDiff(a, ref), kernelTol)
	require.Less(t, maxDiff(b, ref), kernelTol)
}

func TestCacheErrors(t *testing.T) {
	_, err := NewCache(Config{Layers: 1, KVHeads: 1, HeadDim: 0, BlockSize: 1, NumBlocks: 1})
	require.True(t, errors.Is(err, ErrInvalidConfig))
	_, err = NewCache(Config{Layers: 1, KVHeads: 1, HeadDim: 1, BlockSize: 1, NumBlocks: 1, DType: 9})
	require.True(t, errors.Is(err, ErrInvalidConfig))
	cfg := Config{Layers: 2, KVHeads: 2, HeadDim: 4, BlockSize: 4, NumBlocks: 8, DType: Float16}
	c, _ := NewCache(cfg)
	kv := make([]float32, 8)
	require.True(t, errors.Is(c.Write(0, []int64{32}, kv, kv), ErrOutOfRange))
	require.True(t, errors.Is(c.Write(0, []int64{-1}, kv, kv), ErrOutOfRange))
	require.True(t, errors.Is(c.Write(2, []int64{0}, kv, kv), ErrOutOfRange))
	require.True(t, errors.Is(c.Write(0, []int64{0}, kv[:4], kv), ErrShape))
	// a bad slot anywhere writes nothing
	kv[0] = 7
	require.Error(t, c.Write(0, []int64{0, 99}, append(kv, kv...), append(kv, kv...)))
	got, _, _ := c.Read(0, 0, 0, nil, nil)
	require.Zero(t, got[0])
	require.True(t, errors.Is(c.CopyBlocks([]BlockCopy{{Src: 0, Dst: 8}}), ErrOutOfRange))
	other, _ := NewCache(Config{Layers: 2, KVHeads: 2, HeadDim: 4, BlockSize: 4, NumBlocks: 8, DType: BFloat16})
	require.True(t, errors.Is(c.MoveBlocks(other, nil), ErrShape))
	k := NewKernel(1)
	defer k.Close()
	q := make([]float32, 2*4)
	out := make([]float32, len(q))
	require.True(t, errors.Is(k.Decode(c, 0, Params{QHeads: 3}, q, [][]int32{{0}}, []int{1}, out), ErrInvalidConfig))
	require.True(t, errors.Is(k.Decode(c, 0, Params{QHeads: 2}, q, [][]int32{{9}}, []int{1}, out), ErrOutOfRange))
	require.True(t, errors.Is(k.Decode(c, 0, Params{QHeads: 2}, q, [][]int32{{0}}, []int{5}, out), ErrOutOfRange))
	require.True(t, errors.Is(k.Decode(c, 0, Params{QHeads: 2}, q[:4], [][]int32{{0}}, []int{1}, out), ErrShape))
	require.True(t, errors.Is(k.Prefill(c, 0, Params{QHeads: 2}, q, []int32{0}, 4, 1, out), ErrOutOfRange))
}

func TestTiersAndSizes(t *testing.T) {
	cfg := Config{Layers: 32, KVHeads: 8, HeadDim: 128, BlockSize: 16, NumBlocks: 2, DType: BFloat16}
	require.Equal(t, 131072, cfg.BytesPerToken(), "Llama-3-8B: 128 KiB per token in 16-bit")
	require.Equal(t, 16*131072, cfg.BytesPerBlock())
	cfg.DType = FP8E4M3
	require.Equal(t, 65536, cfg.BytesPerToken())
	small := Config{Layers: 2, KVHeads: 1, HeadDim: 4, BlockSize: 2, NumBlocks: 4, DType: FP8E4M3}
	dev, _ := NewCache(small)
	small.NumBlocks = 8
	host, _ := NewCache(small)
	require.NoError(t, dev.Write(1, []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6, 7, 8}, []float32{-1, -2, -3, -4, -5, -6, -7, -8}))
	require.NoError(t, dev.MoveBlocks(host, []BlockCopy{{Src: 1, Dst: 7}}))
	k, v, _ := host.Read(1, 0, 15, nil, nil)
	require.Equal(t, []float32{5, 6, 7, 8}, k)
	require.Equal(t, []float32{-5, -6, -7, -8}, v)
}

// Blocks larger than a softmax chunk are split across chunks; windows and prefill
// chunks still match the reference.
func TestLargeBlocks(t *testing.T) { forEachPath(t, checkLargeBlocks) }

func checkLargeBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	k := NewKernel(2)
	defer k.Close()
	for _, dt := range []DType{Float32, BFloat16} {
		cfg := Config{Layers: 1, KVHeads: 2, HeadDim: 16, BlockSize: 300, NumBlocks: 6, DType: dt}
		c, _ := NewCache(cfg)
		seqs := fill(t, c, r, []int{700, 129})
		for _, window := range []int{0, 150} {
			p := Params{QHeads: 4, Window: window}
			q := make([]float32, 2*4*16)
			for i := range q {
				q[i] = float32(r.NormFloat64())
			}
			out := make([]float32, len(q))
			require.NoError(t, k.Decode(c, 0, p, q, [][]int32{seqs[0].table, seqs[1].table}, []int{700, 129}, out))
			for i, s := range seqs {
				n := []int{700, 129}[i]
				ref := Reference(q[i*64:(i+1)*64], s.kStore, s.vStore, 4, 2, 16, []int{n - 1}, 0.25, window)
				require.Less(t, maxDiff(out[i*64:(i+1)*64], ref), kernelTol, "%v window %d seq %d out %v", dt, window, i, out[i*64:i*64+4])
			}
			// prefill the last 200 tokens of the long sequence
			pq := make([]float32, 200*4*16)
			for i := range pq {
				pq[i] = float32(r.NormFloat64())
			}
			pout := make([]float32, len(pq))
			require.NoError(t, k.Prefill(c, 0, p, pq, seqs[0].table, 500, 200, pout))
			pos := make([]int, 200)
			for i := range pos {
				pos[i] = 500 + i
			}
			ref := Reference(pq, seqs[0].kStore, seqs[0].vStore, 4, 2, 16, pos, 0.25, window)
			for i := range pout {
				if math.IsInf(float64(pout[i]), 0) || math.IsNaN(float64(pout[i])) {
					t.Fatalf("%v window %d: prefill output %d (token %d) = %v", dt, window, i, i/64, pout[i])
				}
			}
			require.Less(t, maxDiff(pout, ref), kernelTol, "%v window %d", dt, window)
		}
	}
}
