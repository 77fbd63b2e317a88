package kvevents

import (
	"errors"
	"math"
	"testing"
)

func TestReaderIntegers(t *testing.T) {
	cases := []struct {
		in   []byte
		bits uint64
		neg  bool
	}{
		{[]byte{0x7f}, 127, false},
		{[]byte{0xe0}, uint64(math.MaxUint64 - 31), true}, // -32
		{[]byte{0xd0, 0x80}, uint64(1<<64 - 128), true},   // -128
		{[]byte{0xd0, 0x05}, 5, false},                    // non-negative int8
		{[]byte{0xd1, 0xff, 0xfe}, uint64(1<<64 - 2), true},
		{[]byte{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 1 << 63, true}, // MinInt64
		{[]byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, math.MaxUint64, false},
		{[]byte{0xce, 0, 1, 0, 0}, 65536, false},
	}
	for _, c := range cases {
		r := reader{b: c.in}
		bits, neg, err := r.integer()
		if err != nil || bits != c.bits || neg != c.neg || r.off != len(c.in) {
			t.Errorf("%x: %d %v %v (off %d)", c.in, bits, neg, err, r.off)
		}
	}
	for _, in := range [][]byte{{0xcd, 1}, {0xd3, 0}, {}} {
		r := reader{b: in}
		if _, _, err := r.integer(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v, want ErrMalformed", in, err)
		}
	}
}

// Declared lengths beyond the payload fail before anything is allocated or read.
func TestReaderBounds(t *testing.T) {
	for _, in := range [][]byte{
		{0xdd, 0x7f, 0xff, 0xff, 0xff},       // array32 of 2^31-1
		{0xdf, 0x00, 0x00, 0x00, 0x02, 0x01}, // map32 of 2: needs 4 bytes
		{0xdb, 0xff, 0xff, 0xff, 0xff},       // str32
		{0xc6, 0x00, 0x01, 0x00, 0x00},       // bin32 of 64K
		{0xc9, 0xff, 0xff, 0xff, 0xff, 0x01}, // ext32
		{0x92, 0x01},                         // array of 2 with 1 byte
	} {
		r := reader{b: in}
		if err := r.skip(0); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v, want ErrMalformed", in, err)
		}
	}
	// Extension values are skipped whole (well-formed, of no known meaning).
	for _, in := range [][]byte{{0xd4, 1, 2}, {0xd8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0xc7, 2, 9, 1, 2}} {
		r := reader{b: in}
		if err := r.skip(0); err != nil || r.off != len(in) {
			t.Errorf("%x: %v at %d", in, err, r.off)
		}
	}
	if err := checkRawValue([]byte{0xc1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("reserved code: %v", err)
	}
}
