package attention

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireAVX2 skips a test of the assembly kernels on CPUs without them.
func requireAVX2(t *testing.T) {
	t.Helper()
	if !hasAVX2 {
		t.Skip("no AVX2/FMA/F16C on this CPU: the assembly path cannot run here")
	}
}

// stored returns n×d random values encoded as dt, and their widened values.
func stored(r *rand.Rand, dt DType, n int) (kvView, []float32) {
	wide := make([]float32, n)
	var v kvView
	switch dt.Size() {
	case 4:
		v.f32 = make([]float32, n)
	case 2:
		v.u16 = make([]uint16, n)
	default:
		v.u8 = make([]uint8, n)
	}
	for i := range wide {
		x := float32(r.NormFloat64())
		if i%17 == 3 {
			x *= 0.002 // subnormal in FP8 and small in the others
		}
		switch dt {
		case Float32:
			v.f32[i], wide[i] = x, x
		case Float16:
			v.u16[i] = ToFloat16(x)
			wide[i] = FromFloat16(v.u16[i])
		case BFloat16:
			v.u16[i] = ToBFloat16(x)
			wide[i] = FromBFloat16(v.u16[i])
		case FP8E4M3:
			v.u8[i] = ToFP8(x)
			wide[i] = FromFP8(v.u8[i])
		}
	}
	return v, wide
}

// permute16 orders x like the kernels widen bfloat16 (per 16: even, odd).
func permute16(x []float32) []float32 {
	out := make([]float32, len(x))
	for b := 0; b < len(x); b += 16 {
		for p := range 8 {
			out[b+p], out[b+8+p] = x[b+2*p], x[b+2*p+1]
		}
	}
	return out
}

// The assembly score and accumulate kernels agree with plain float64 sums on the
// widened elements, for every element type, odd token counts included.
func TestAsmSegmentKernels(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(41, 42))
	for _, dt := range []DType{Float32, Float16, BFloat16, FP8E4M3} {
		perm := dt == BFloat16
		for _, d := range []int{16, 32, 48, 128} {
			for _, n := range []int{1, 2, 3, 7, 16, 33} {
				kv, wide := stored(r, dt, n*d)
				q := make([]float32, 4*d)
				for i := range q {
					q[i] = float32(r.NormFloat64())
				}
				qk := q
				qscale, post, wscale := float32(1), float32(1), float32(1)
				if dt == FP8E4M3 {
					qscale, wscale = 0x1p8, 0x1p8
				}
				qk = make([]float32, len(q))
				for row := range 4 {
					src := q[row*d : (row+1)*d]
					if perm {
						src = permute16(src)
					}
					for x := range d {
						qk[row*d+x] = src[x] * qscale
					}
				}
				out := make([]float32, ((n+1)/2)*8+4)
				out[len(out)-1] = 12345
				asmScore(dt, qk, kv, n, d, out, prefetch{}, post)
				require.Equal(t, float32(12345), out[len(out)-1], "score wrote past its region")
				for tk := range n {
					for row := range 4 {
						var want float64
						for x := range d {
							want += float64(q[row*d+x]) * float64(wide[tk*d+x])
						}
						require.InDelta(t, want, float64(out[tk*4+row]), 1e-4*(1+math.Abs(want)), "%v d=%d n=%d token %d row %d", dt, d, n, tk, row)
					}
				}
				// accumulate
				w := make([]float32, 4*n)
				for i := range w {
					w[i] = float32(r.Float64())
				}
				acc := make([]float32, 4*d)
				for i := range acc {
					acc[i] = float32(r.NormFloat64())
				}
				want := make([]float64, 4*d)
				for row := range 4 {
					for x := range d {
						want[row*d+x] = float64(acc[row*d+x])
						for tk := range n {
							want[row*d+x] += float64(w[tk*4+row]) * float64(wide[tk*d+x])
						}
					}
				}
				if perm { // the kernel keeps acc permuted
					for row := range 4 {
						copy(acc[row*d:(row+1)*d], permute16(acc[row*d:(row+1)*d]))
					}
				}
				for i := range w {
					w[i] *= wscale
				}
				asmAccum(dt, acc, w, kv, n, d, prefetch{})
				for row := range 4 {
					got := acc[row*d : (row+1)*d]
					wantRow := make([]float32, d)
					for x := range d {
						wantRow[x] = float32(want[row*d+x])
					}
					if perm {
						wantRow = permute16(wantRow)
					}
					for x := range d {
						require.InDelta(t, wantRow[x], got[x], 1e-4*(1+math.Abs(float64(wantRow[x]))), "accum %v d=%d n=%d row %d x %d", dt, d, n, row, x)
					}
				}
			}
		}
	}
}

func TestAsmSoftmaxKernels(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(43, 44))
	ninf := float32(math.Inf(-1))
	for _, n := range []int{2, 4, 10, 128} {
		s := make([]float32, 4*n)
		for i := range s {
			s[i] = float32(r.Float64()*120 - 100)
			if i%7 == 0 {
				s[i] = ninf
			}
		}
		mx := asmMax4(s, n)
		for row := range 4 {
			want := ninf
			for tk := range n {
				want = max(want, s[tk*4+row])
			}
			require.Equal(t, want, mx[row])
		}
		m := [4]float32{20, 0, -3, 0.5}
		for tk := range n { // the running max is ≥ every score
			for row := range 4 {
				s[tk*4+row] = min(s[tk*4+row], m[row])
			}
		}
		got := append([]float32(nil), s...)
		sums := asmExp4(got, n, &m, 2)
		for row := range 4 {
			var wantSum float64
			for tk := range n {
				x := s[tk*4+row]
				e := math.Exp(float64(x - m[row]))
				if x-m[row] < -87 {
					e = 0
				}
				wantSum += e
				require.InDelta(t, 2*e, float64(got[tk*4+row]), 2e-6*e+1e-37, "x=%v", x-m[row])
			}
			require.InDelta(t, wantSum, float64(sums[row]), 1e-5*wantSum+1e-37)
		}
	}
}

// forEachPath runs f as a subtest on every kernel path this CPU can run, or only on
// the path PAGEDKV_ATTN_PATH names (so CI can test each path on its own).
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	before := Path()
	t.Cleanup(func() { require.NoError(t, SetPath(before)) })
	paths := Paths()
	if v := os.Getenv(envPath); v != "" && v != "auto" {
		paths = []string{before}
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			require.NoError(t, SetPath(p))
			f(t)
		})
	}
}

// A PAGEDKV_ATTN_PATH that cannot be honoured fails the tests instead of silently
// testing another path.
func TestPathFromEnvironment(t *testing.T) {
	require.NoError(t, envPathErr)
	t.Log("path:", Path(), "—", Implementation())
	require.Error(t, SetPath("sse9"))
	if !hasAVX2 {
		require.ErrorIs(t, SetPath("avx2"), ErrInvalidConfig)
	}
}

// The assembly and the portable path give the same outputs on the same inputs
// (within float32 accumulation error: kernelTol relative to the output's scale),
// over element types, head dims, GQA groups, block sizes (small, not dividing a
// chunk, larger than a chunk), windows, split contexts and prefill chunks.
func TestAssemblyMatchesPortable(t *testing.T) {
	requireAVX2(t)
	before := Path()
	defer func() { _ = SetPath(before) }()
	r := rand.New(rand.NewPCG(51, 52))
	run := func(path string, f func(k *Kernel, out []float32) error, n int) []float32 {
		require.NoError(t, SetPath(path))
		k := NewKernel(1 + r.IntN(3))
		defer k.Close()
		out := make([]float32, n)
		require.NoError(t, f(k, out))
		return out
	}
	trials := 40
	if raceEnabled {
		trials = 12
	}
	for trial := range trials {
		dt := DType(trial % 4)
		kvHeads, group := 1+r.IntN(3), []int{1, 2, 3, 4, 8}[r.IntN(5)]
		cfg := Config{Layers: 1, KVHeads: kvHeads, HeadDim: []int{16, 32, 64, 128}[r.IntN(4)],
			BlockSize: []int{1, 3, 16, 80, 200}[r.IntN(5)], NumBlocks: 0, DType: dt}
		nseq := 1 + r.IntN(3)
		lens := make([]int, nseq)
		total := 0
		for i := range lens {
			lens[i] = 1 + r.IntN(400)
			total += (lens[i] + cfg.BlockSize - 1) / cfg.BlockSize
		}
		cfg.NumBlocks = total + 3
		c, err := NewCache(cfg)
		require.NoError(t, err)
		seqs := fill(t, c, r, lens)
		p := Params{QHeads: kvHeads * group}
		if r.IntN(3) == 0 {
			p.Window = 1 + r.IntN(300)
		}
		d := cfg.HeadDim
		tables := make([][]int32, nseq)
		for i := range seqs {
			tables[i] = seqs[i].table
		}
		q := make([]float32, nseq*p.QHeads*d)
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
		dec := func(k *Kernel, out []float32) error { return k.Decode(c, 0, p, q, tables, lens, out) }
		a, b := run("portable", dec, len(q)), run("avx2", dec, len(q))
		name := fmt.Sprintf("trial %d %v cfg %+v p %+v lens %v", trial, dt, cfg, p, lens)
		require.Less(t, maxDiff(b, float64s(a)), kernelTol, "decode "+name)
		// prefill the last part of the first sequence
		n0 := lens[0]
		start := r.IntN(n0)
		pq := make([]float32, (n0-start)*p.QHeads*d)
		for i := range pq {
			pq[i] = float32(r.NormFloat64())
		}
		pre := func(k *Kernel, out []float32) error {
			return k.Prefill(c, 0, p, pq, tables[0], start, n0-start, out)
		}
		a, b = run("portable", pre, len(pq)), run("avx2", pre, len(pq))
		require.Less(t, maxDiff(b, float64s(a)), kernelTol, "prefill from %d: %s", start, name)
	}
}

func float64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
