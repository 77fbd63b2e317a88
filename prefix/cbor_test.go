package prefix

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// Encodings from RFC 8949 Appendix A (and the shortest-form boundaries).
func TestCBORKnownEncodings(t *testing.T) {
	ints := map[int64]string{
		0: "00", 1: "01", 10: "0a", 23: "17", 24: "1818", 25: "1819", 100: "1864", 255: "18ff", 256: "190100",
		1000: "1903e8", 65535: "19ffff", 65536: "1a00010000", 1000000: "1a000f4240", 4294967295: "1affffffff",
		4294967296: "1b0000000100000000", 1000000000000: "1b000000e8d4a51000", math.MaxInt64: "1b7fffffffffffffff",
		-1: "20", -10: "29", -24: "37", -25: "3818", -100: "3863", -1000: "3903e7", -256: "38ff", -257: "390100",
		math.MinInt64: "3b7fffffffffffffff",
	}
	for v, want := range ints {
		require.Equal(t, want, hex.EncodeToString(cborInt(nil, v)), "%d", v)
		if v >= 0 {
			require.Equal(t, want, hex.EncodeToString(cborUint(nil, uint64(v))))
		}
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			require.Equal(t, "81"+want, hex.EncodeToString(cborInt32s(nil, []int32{int32(v)})), "%d", v)
		}
	}
	require.Equal(t, "1bffffffffffffffff", hex.EncodeToString(cborUint(nil, math.MaxUint64)))
	for s, want := range map[string]string{"": "60", "a": "6161", "IETF": "6449455446", "\"\\": "62225c", "\u00fc": "62c3bc", "\u6c34": "63e6b0b4"} {
		require.Equal(t, want, hex.EncodeToString(cborText(nil, s)))
	}
	require.Equal(t, "40", hex.EncodeToString(cborBytes(nil, nil)))
	require.Equal(t, "4401020304", hex.EncodeToString(cborBytes(nil, []byte{1, 2, 3, 4})))
	require.Equal(t, "80", hex.EncodeToString(cborArray(nil, 0)))
	require.Equal(t, "83010203", hex.EncodeToString(cborInt32s(nil, []int32{1, 2, 3})))
	// [1, [2, 3], [4, 5]]
	b := cborArray(nil, 3)
	b = cborInt(b, 1)
	b = cborInt32s(b, []int32{2, 3})
	b = cborInt32s(b, []int32{4, 5})
	require.Equal(t, "8301820203820405", hex.EncodeToString(b))
	long := make([]int32, 25)
	for i := range long {
		long[i] = int32(i + 1)
	}
	require.Equal(t, "98190102030405060708090a0b0c0d0e0f101112131415161718181819", hex.EncodeToString(cborInt32s(nil, long)))
	require.Equal(t, []byte{0xf6}, append([]byte(nil), cborNull))
	// 24-byte and 256-byte strings switch to 1- and 2-byte lengths.
	require.Equal(t, "7818", hex.EncodeToString(cborText(nil, string(make([]byte, 24)))[:2]))
	require.Equal(t, "590100", hex.EncodeToString(cborBytes(nil, make([]byte, 256))[:3]))
}

// cborValue is a decoded item: cborNum for integers, []byte, string, []any, nil.
type cborNum struct {
	neg bool
	arg uint64 // the value is arg, or -1-arg when neg
}

var errNotCanonical = errors.New("not canonical")

// decodeCBOR is an independent strict decoder for the item shapes the encoder
// writes. It rejects heads that are not in shortest form, indefinite lengths and any
// other major type or simple value.
func decodeCBOR(b []byte) (any, []byte, error) {
	if len(b) == 0 {
		return nil, nil, errors.New("truncated")
	}
	if b[0] == 0xf6 {
		return nil, b[1:], nil
	}
	major, info := b[0]>>5, b[0]&31
	b = b[1:]
	var arg uint64
	switch {
	case info < 24:
		arg = uint64(info)
	case info <= 27:
		n := 1 << (info - 24)
		if len(b) < n {
			return nil, nil, errors.New("truncated head")
		}
		for _, c := range b[:n] {
			arg = arg<<8 | uint64(c)
		}
		b = b[n:]
		if min := map[byte]uint64{24: 24, 25: 1 << 8, 26: 1 << 16, 27: 1 << 32}[info]; arg < min {
			return nil, nil, fmt.Errorf("%w: %d in a %d-byte head", errNotCanonical, arg, n)
		}
	default:
		return nil, nil, fmt.Errorf("%w: additional info %d", errNotCanonical, info)
	}
	switch major {
	case 0, 1:
		return cborNum{major == 1, arg}, b, nil
	case 2, 3:
		if uint64(len(b)) < arg {
			return nil, nil, errors.New("truncated string")
		}
		if major == 2 {
			return append([]byte{}, b[:arg]...), b[arg:], nil
		}
		return string(b[:arg]), b[arg:], nil
	case 4:
		out := []any{}
		for range arg {
			var v any
			var err error
			if v, b, err = decodeCBOR(b); err != nil {
				return nil, nil, err
			}
			out = append(out, v)
		}
		return out, b, nil
	}
	return nil, nil, fmt.Errorf("major type %d", major)
}

func numOf(v int64) cborNum {
	if v < 0 {
		return cborNum{true, ^uint64(v)}
	}
	return cborNum{false, uint64(v)}
}

// FuzzCBOR encodes values built from the fuzz input into the shape of a vLLM block
// payload and requires the strict decoder to read back exactly those values, in
// canonical form, with nothing left over.
func FuzzCBOR(f *testing.F) {
	f.Add(int64(0), uint64(0), "", []byte{})
	f.Add(int64(-25), uint64(24), "lora", []byte{1, 2, 3, 0xff, 0x7f, 0x80, 0, 0, 0, 0x10})
	f.Add(int64(math.MinInt64), uint64(math.MaxUint64), "\u79df\u6237", bytes.Repeat([]byte{0xaa}, 300))
	f.Add(int64(65536), uint64(4294967296), string(make([]byte, 256)), []byte{0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, i int64, u uint64, s string, raw []byte) {
		toks := make([]int32, len(raw)/4)
		for k := range toks {
			toks[k] = int32(uint32(raw[4*k]) | uint32(raw[4*k+1])<<8 | uint32(raw[4*k+2])<<16 | uint32(raw[4*k+3])<<24)
		}
		buf := []byte{0xee} // the encoder appends; earlier bytes stay
		buf = cborArray(buf, 6)
		buf = cborBytes(buf, raw)
		buf = cborInt32s(buf, toks)
		buf = cborArray(buf, 2)
		buf = cborText(buf, s)
		buf = cborInt(buf, i)
		buf = cborUint(buf, u)
		buf = append(buf, cborNull)
		buf = cborArray(buf, 0)
		require.Equal(t, byte(0xee), buf[0])
		got, rest, err := decodeCBOR(buf[1:])
		require.NoError(t, err)
		require.Empty(t, rest)
		wantToks := []any{}
		for _, tk := range toks {
			wantToks = append(wantToks, numOf(int64(tk)))
		}
		want := []any{append([]byte{}, raw...), wantToks, []any{s, numOf(i)}, cborNum{false, u}, nil, []any{}}
		require.Equal(t, want, got)
		// The specialised token loop writes what the generic encoder writes.
		gen := cborArray(nil, len(toks))
		for _, tk := range toks {
			gen = cborInt(gen, int64(tk))
		}
		require.Equal(t, gen, cborInt32s(nil, toks))
	})
}

func TestCBORAllocatesNothingOnceGrown(t *testing.T) {
	toks := seq(64)
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		b := cborArray(buf[:0], 3)
		b = cborBytes(b, buf[:32])
		b = cborInt32s(b, toks)
		b = cborText(b, "adapter")
		_ = cborInt(b, -12345)
	})
	require.Zero(t, allocs)
}
