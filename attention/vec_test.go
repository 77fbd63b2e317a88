package attention

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The dispatched primitives (SIMD under GOEXPERIMENT=simd) agree with the portable ones.
func TestVectorPrimitives(t *testing.T) {
	t.Log("implementation:", Implementation())
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 15, 16, 17, 31, 32, 33, 128, 200} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		require.InDelta(t, dotGo(a, b), dot(a, b), 1e-4*float64(n+1), "n=%d", n)
		y1, y2 := append([]float32(nil), b...), append([]float32(nil), b...)
		axpyGo(y1, 0.7, a)
		axpy(y2, 0.7, a)
		for i := range y1 { // fused multiply-add may round once instead of twice
			require.InDelta(t, y1[i], y2[i], 1e-6*(1+math.Abs(float64(y1[i]))))
		}
		h16, hbf, h8 := make([]uint16, n), make([]uint16, n), make([]uint8, n)
		for i := range h16 {
			h16[i] = uint16(r.Uint32())
			if h16[i]&0x7c00 == 0x7c00 {
				h16[i] &^= 0x4000
			}
			hbf[i] = ToBFloat16(a[i])
			h8[i] = uint8(r.Uint32())
			if h8[i]&0x7f == 0x7f {
				h8[i] &^= 1
			}
		}
		g, s := make([]float32, n), make([]float32, n)
		widenF16Go(g, h16)
		widenF16(s, h16)
		requireSameBits(t, g, s)
		widenBF16Go(g, hbf)
		widenBF16(s, hbf)
		requireSameBits(t, g, s)
		widenFP8Go(g, h8)
		widenFP8(s, h8)
		requireSameBits(t, g, s)
	}
}

func requireSameBits(t *testing.T, a, b []float32) {
	t.Helper()
	for i := range a {
		require.Equal(t, math.Float32bits(a[i]), math.Float32bits(b[i]), "element %d: %v vs %v", i, a[i], b[i])
	}
}

func TestExpShift(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{1, 5, 16, 40, 100} {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.Float64()*120 - 100) // includes values far below −87 after the shift
		}
		m := float32(20) // ≥ every score, as the running max is
		want := make([]float64, n)
		var wantSum float64
		for i, x := range s {
			want[i] = math.Exp(float64(x - m))
			wantSum += want[i]
		}
		got := append([]float32(nil), s...)
		sum := expShift(got, m)
		for i := range got {
			require.InDelta(t, want[i], float64(got[i]), 1e-6*want[i]+1e-37, "x=%v", s[i]-m)
		}
		require.InDelta(t, wantSum, float64(sum), 1e-5*wantSum+1e-37)
	}
}

// The blocked score and accumulate kernels agree with the plain loops.
func TestRowKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	for _, d := range []int{16, 128} {
		for _, rows := range []int{1, 4, 8} {
			for _, n := range []int{1, 2, 7, 16} {
				q := make([][]float32, rows)
				for j := range q {
					q[j] = rnd(d)
				}
				k := rnd(n * d)
				got, want := make([]float32, rows*20), make([]float32, rows*20)
				scoreRows(q, k, n, d, 0.5, got, 20)
				scoreRowsGo(q, k, n, d, 0.5, want, 20)
				for i := range got {
					require.InDelta(t, want[i], got[i], 1e-4, "d=%d rows=%d n=%d i=%d", d, rows, n, i)
				}
				segs := [][]float32{rnd(n * d), rnd(3 * d)}
				ws := rnd(rows * 20)
				a1, a2 := rnd(rows*d), make([]float32, rows*d)
				copy(a2, a1)
				accumRowsSegs(a1, rows, ws, 20, segs, d)
				accumRowsSegsGo(a2, rows, ws, 20, segs, d)
				for i := range a1 {
					require.InDelta(t, a2[i], a1[i], 1e-4, "accum d=%d rows=%d n=%d", d, rows, n)
				}
			}
		}
	}
}
