package kvevents

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// Every writer produces the bytes of vmihailenco/msgpack's low-level encoder, at
// every boundary of every form.
func TestWritersMatchVMI(t *testing.T) {
	var w appendWriter
	m := msgpack.NewEncoder(&w)
	check := func(what string, ours []byte, theirs func() error) {
		t.Helper()
		w.b = w.b[:0]
		if err := theirs(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, w.b) {
			t.Fatalf("%s: ours %x, vmihailenco %x", what, ours, w.b)
		}
	}
	var uints []uint64
	for _, v := range []uint64{0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64} {
		uints = append(uints, v, v-1, v+1)
	}
	for _, v := range uints {
		check("uint", appendUint(nil, v), func() error { return m.EncodeUint(v) })
	}
	for _, v := range []int64{0, -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769, math.MinInt32 + 1, math.MinInt32, math.MinInt32 - 1, math.MinInt64, 5, 200, 70000, math.MaxInt64} {
		check("int", appendInt(nil, v), func() error { return m.EncodeInt(v) })
	}
	for _, f := range []float64{0, -0.5, 1757500000.25, math.Inf(1), math.NaN(), math.SmallestNonzeroFloat64} {
		check("float64", appendFloat64(nil, f), func() error { return m.EncodeFloat64(f) })
	}
	for _, n := range []int{0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("x", n)
		check("str", appendStr(nil, s), func() error { return m.EncodeString(s) })
		check("bin", appendBin(nil, []byte(s)), func() error { return m.EncodeBytes([]byte(s)) })
		check("array", appendArrayLen(nil, n), func() error { return m.EncodeArrayLen(n) })
		check("map", appendMapLen(nil, n), func() error { return m.EncodeMapLen(n) })
	}
	check("nil", appendNil(nil), m.EncodeNil)
	check("true", appendBool(nil, true), func() error { return m.EncodeBool(true) })
	check("false", appendBool(nil, false), func() error { return m.EncodeBool(false) })
}
