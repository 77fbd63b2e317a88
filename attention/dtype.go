package attention

import (
	"fmt"
	"math"
)

// DType is the element type of stored keys and values. It changes how many bytes a
// block takes (capacity), never the block-table logic.
type DType int

const (
	// Float32 stores IEEE single precision: exact.
	Float32 DType = iota
	// Float16 stores IEEE half precision, rounded to nearest even and saturated to
	// ±65504: relative error ≤ 2^-11 for |x| ≥ 2^-14, absolute ≤ 2^-25 below.
	Float16
	// BFloat16 stores the top 16 bits of a float32, rounded to nearest even:
	// relative error ≤ 2^-8 over float32's whole range.
	BFloat16
	// FP8E4M3 stores 8-bit floats (1 sign, 4 exponent, 3 mantissa bits, bias 7, the
	// OCP "E4M3FN" format), rounded to nearest even and saturated to ±448: relative
	// error ≤ 2^-4 for |x| ≥ 2^-6, absolute error ≤ 2^-10 below. No scale factors: a
	// block can be written token by token and copied byte for byte. Keys and values
	// should be of order 1 (as after the usual normalisations) for this to hold.
	FP8E4M3
)

// Size returns the bytes per element.
func (d DType) Size() int {
	switch d {
	case Float32:
		return 4
	case Float16, BFloat16:
		return 2
	case FP8E4M3:
		return 1
	}
	return 0
}

// String names the type ("float32", "float16", "bfloat16", "fp8e4m3"), or
// "DType(n)" for a value that is none of them.
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float16:
		return "float16"
	case BFloat16:
		return "bfloat16"
	case FP8E4M3:
		return "fp8e4m3"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// MaxRelError returns the documented worst-case relative rounding error of storing a
// value in its normal range.
func (d DType) MaxRelError() float64 {
	switch d {
	case Float16:
		return 0x1p-11
	case BFloat16:
		return 0x1p-8
	case FP8E4M3:
		return 0x1p-4
	}
	return 0
}

// ToFloat16 rounds x to IEEE half precision (nearest even), saturating at ±65504
// (infinities and NaN become ±65504 and 0: stored KV is always finite).
func ToFloat16(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	a := b & 0x7fffffff
	switch {
	case a > 0x7f800000: // NaN
		return 0
	case a >= 0x477ff000: // rounds to ≥ 65520: saturate
		return sign | 0x7bff
	case a >= 0x38800000: // normal half
		// rebias exponent from 127 to 15 and round 13 dropped bits to nearest even
		h := (a - 0x38000000) >> 13
		rem := a & 0x1fff
		if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	case a >= 0x33000000: // subnormal half (may round up to the smallest normal)
		e := a >> 23
		m := a&0x7fffff | 0x800000
		shift := 126 - e // 14 + 113 - e - 1
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	return sign // underflows to ±0
}

// FromFloat16 widens a half to float32 (exact for every finite half).
func FromFloat16(h uint16) float32 {
	e, m := uint32(h>>10)&0x1f, uint32(h&0x3ff)
	v := math.Float32frombits((e+112)<<23 | m<<13) // rebias 15 → 127
	if e == 0 {
		// subnormal: m × 2^-24, computed without float32 denormals (which make the
		// arithmetic several times slower on some CPUs)
		v = float32(m) * 0x1p-24
	}
	if h&0x8000 != 0 {
		return -v
	}
	return v
}

// ToBFloat16 rounds x to bfloat16 (nearest even). Infinities saturate to the largest
// finite value, NaN becomes 0.
func ToBFloat16(x float32) uint16 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 {
		return 0
	}
	if b&0x7fffffff >= 0x7f7f8000 { // would round to infinity
		return uint16(b>>16)&0x8000 | 0x7f7f
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// FromBFloat16 widens a bfloat16 to float32 (exact).
func FromBFloat16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// ToFP8 rounds x to FP8 E4M3 (nearest even), saturating at ±448; NaN becomes 0.
func ToFP8(x float32) uint8 {
	b := math.Float32bits(x)
	sign := uint8(b>>24) & 0x80
	a := b & 0x7fffffff
	switch {
	case a > 0x7f800000:
		return 0
	case a >= 0x43e80000: // ≥ 464 rounds beyond 448: saturate
		return sign | 0x7e
	case a >= 0x3c800000: // normal: exponent ≥ -6
		h := (a - 0x3c000000) >> 20 // rebias 127 → 7, keep 3 mantissa bits
		rem := a & 0xfffff
		if rem > 0x80000 || (rem == 0x80000 && h&1 == 1) {
			h++
		}
		if h > 0x7e {
			h = 0x7e
		}
		return sign | uint8(h)
	case a >= 0x3a000000: // subnormal: multiples of 2^-9 (≥ 2^-11 may round up)
		e := a >> 23
		m := a&0x7fffff | 0x800000
		shift := 141 - e // value = m·2^(e-150); in units of 2^-9 that is m >> (141-e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint8(h)
	}
	return sign
}

// FromFP8 widens an FP8 E4M3 value to float32 (exact; 0x7f/0xff, NaN in E4M3FN, are
// never produced by ToFP8).
func FromFP8(v uint8) float32 {
	e, m := uint32(v>>3)&0xf, uint32(v&7)
	f := math.Float32frombits((e+120)<<23 | m<<20) // rebias 7 → 127
	if e == 0 {
		f = float32(m) * 0x1p-9 // subnormal, without float32 denormals
	}
	if v&0x80 != 0 {
		return -f
	}
	return f
}
