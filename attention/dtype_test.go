package attention

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Round trips of every 16- and 8-bit pattern, and rounding of random float32 values
// checked against the nearest representable value found by brute force.
func TestFloat16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 == 0x7c00 { // inf/NaN patterns are never stored
			continue
		}
		f := FromFloat16(uint16(h))
		require.Equal(t, uint16(h)&0x7fff|uint16(h)&0x8000*boolU16(f != 0 || h&0x8000 != 0), ToFloat16(f), "h=%#x f=%v", h, f)
	}
	require.Equal(t, float32(65504), FromFloat16(ToFloat16(1e9)))
	require.Equal(t, float32(-65504), FromFloat16(ToFloat16(float32(math.Inf(-1)))))
	require.Equal(t, float32(1), FromFloat16(ToFloat16(1)))
	checkNearest(t, "f16", func(x float32) float32 { return FromFloat16(ToFloat16(x)) }, allF16(), 60000)
}

func TestBFloat16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		if h&0x7f80 == 0x7f80 {
			continue
		}
		require.Equal(t, uint16(h), ToBFloat16(FromBFloat16(uint16(h))))
	}
	var all []float32
	for h := 0; h < 1<<16; h++ {
		if h&0x7f80 != 0x7f80 {
			all = append(all, FromBFloat16(uint16(h)))
		}
	}
	checkNearest(t, "bf16", func(x float32) float32 { return FromBFloat16(ToBFloat16(x)) }, all, 1e30)
}

func TestFP8(t *testing.T) {
	var all []float32
	for v := 0; v < 256; v++ {
		if v&0x7f == 0x7f {
			continue
		}
		f := FromFP8(uint8(v))
		if v != 0x80 { // -0 round-trips to +0 pattern only by sign
			require.Equal(t, uint8(v), ToFP8(f), "v=%#x f=%v", v, f)
		}
		all = append(all, f)
	}
	require.Equal(t, float32(448), FromFP8(ToFP8(1000)))
	require.Equal(t, float32(0.001953125), FromFP8(1)) // smallest subnormal 2^-9
	checkNearest(t, "fp8", func(x float32) float32 { return FromFP8(ToFP8(x)) }, all, 440)
}

func boolU16(b bool) uint16 {
	if b {
		return 1
	}
	return 0
}

func allF16() []float32 {
	var out []float32
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 != 0x7c00 {
			out = append(out, FromFloat16(uint16(h)))
		}
	}
	return out
}

// checkNearest verifies that round(x) is a representable value nearest to x (ties
// allowed either way) for random x with |x| ≤ limit.
func checkNearest(t *testing.T, name string, round func(float32) float32, representable []float32, limit float64) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := slices.Clone(representable)
	slices.Sort(vals)
	for i := 0; i < 20000; i++ {
		x := float32((r.Float64()*2 - 1) * math.Pow(limit, r.Float64()))
		got := round(x)
		j, _ := slices.BinarySearch(vals, x)
		best := math.Inf(1)
		for _, k := range []int{j - 1, j} {
			if k >= 0 && k < len(vals) {
				best = math.Min(best, math.Abs(float64(vals[k])-float64(x)))
			}
		}
		require.LessOrEqual(t, math.Abs(float64(got)-float64(x)), best*(1+1e-12), "%s: round(%v) = %v", name, x, got)
	}
}

// The widenings equal the formats' definitions, sign × 2^(e−bias) × 1.m for normal
// and sign × 2^(1−bias) × 0.m for subnormal patterns, for every pattern.
func TestWideningMatchesDefinition(t *testing.T) {
	def := func(sign bool, e, m, bias, mbits int) float32 {
		var v float64
		if e == 0 {
			v = math.Ldexp(float64(m), 1-bias-mbits)
		} else {
			v = math.Ldexp(float64(m|1<<mbits), e-bias-mbits)
		}
		if sign {
			v = -v
		}
		return float32(v)
	}
	for h := range 1 << 16 {
		if h&0x7c00 == 0x7c00 {
			continue
		}
		require.Equal(t, def(h&0x8000 != 0, h>>10&0x1f, h&0x3ff, 15, 10), FromFloat16(uint16(h)), "h=%#x", h)
	}
	for v := range 256 {
		if v&0x7f == 0x7f {
			continue
		}
		require.Equal(t, def(v&0x80 != 0, v>>3&0xf, v&7, 7, 3), FromFP8(uint8(v)), "v=%#x", v)
	}
}
