package kvevents

import (
	"encoding/binary"
	"fmt"
	"math"
)

// maxDepth bounds the nesting of containers the decoder follows (extra keys and
// skipped unknown values), so hostile input cannot exhaust the stack.
const maxDepth = 32

// reader is a bounds-checked msgpack cursor over one payload. Every declared length
// is checked against the bytes that remain before anything is read or allocated:
// an array or map of n entries needs at least n (2n) more bytes, a string or binary
// of n bytes needs n. Byte slices it returns alias the payload.
//
// Errors: a truncated or impossible payload wraps ErrMalformed; a well-formed value
// of the wrong kind wraps ErrSchema.
type reader struct {
	b   []byte
	off int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) errTruncated(what string) error {
	return fmt.Errorf("%w: %s truncated at offset %d", ErrMalformed, what, r.off)
}

func (r *reader) errKind(want string, c byte) error {
	return fmt.Errorf("%w: want %s at offset %d, found %s", ErrSchema, want, r.off, codeName(c))
}

func (r *reader) peek() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.errTruncated("value")
	}
	return r.b[r.off], nil
}

// take consumes n bytes.
func (r *reader) take(n int, what string) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, r.errTruncated(what)
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s, nil
}

// uintN reads an n-byte big-endian unsigned integer (n = 1, 2, 4 or 8).
func (r *reader) uintN(n int, what string) (uint64, error) {
	s, err := r.take(n, what)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(s[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(s)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(s)), nil
	}
	return binary.BigEndian.Uint64(s), nil
}

// nil consumes a nil and reports true, or consumes nothing and reports false.
func (r *reader) nilValue() bool {
	if r.off < len(r.b) && r.b[r.off] == 0xc0 {
		r.off++
		return true
	}
	return false
}

// containerLen decodes an array (isMap false) or map header and checks that the
// declared entries can fit in what remains.
func (r *reader) containerLen(isMap bool) (int, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case !isMap && c&0xf0 == 0x90:
		r.off++
		n = uint64(c & 0x0f)
	case isMap && c&0xf0 == 0x80:
		r.off++
		n = uint64(c & 0x0f)
	case !isMap && (c == 0xdc || c == 0xdd), isMap && (c == 0xde || c == 0xdf):
		r.off++
		size := 2
		if c == 0xdd || c == 0xdf {
			size = 4
		}
		if n, err = r.uintN(size, "length"); err != nil {
			return 0, err
		}
	default:
		if isMap {
			return 0, r.errKind("map", c)
		}
		return 0, r.errKind("array", c)
	}
	per := uint64(1)
	if isMap {
		per = 2
	}
	if n > uint64(r.remaining())/per {
		return 0, fmt.Errorf("%w: %d entries declared at offset %d, %d bytes remain",
			ErrMalformed, n, r.off, r.remaining())
	}
	return int(n), nil
}

func (r *reader) arrayLen() (int, error) { return r.containerLen(false) }
func (r *reader) mapLen() (int, error)   { return r.containerLen(true) }

// strOrBin reads a str or bin value and returns its bytes (aliasing the payload).
func (r *reader) strOrBin(wantStr, wantBin bool) (b []byte, isBin bool, err error) {
	c, err := r.peek()
	if err != nil {
		return nil, false, err
	}
	var n uint64
	switch {
	case c&0xe0 == 0xa0 && wantStr:
		r.off++
		n = uint64(c & 0x1f)
	case (c == 0xd9 || c == 0xda || c == 0xdb) && wantStr:
		r.off++
		n, err = r.uintN(1<<(c-0xd9), "length")
	case (c == 0xc4 || c == 0xc5 || c == 0xc6) && wantBin:
		r.off++
		isBin = true
		n, err = r.uintN(1<<(c-0xc4), "length")
	default:
		switch {
		case wantStr && wantBin:
			return nil, false, r.errKind("str or bin", c)
		case wantStr:
			return nil, false, r.errKind("str", c)
		}
		return nil, false, r.errKind("bin", c)
	}
	if err != nil {
		return nil, false, err
	}
	if n > uint64(r.remaining()) {
		return nil, false, fmt.Errorf("%w: %d bytes declared at offset %d, %d remain",
			ErrMalformed, n, r.off, r.remaining())
	}
	b, err = r.take(int(n), "string")
	return b, isBin, err
}

func (r *reader) str() ([]byte, error) {
	b, _, err := r.strOrBin(true, false)
	return b, err
}

// isIntCode reports whether c starts a msgpack integer.
func isIntCode(c byte) bool {
	return c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3)
}

// integer reads any msgpack integer. It returns the value's two's-complement bits
// and whether it is negative; a non-negative value is its magnitude (up to
// MaxUint64).
func (r *reader) integer() (bits uint64, neg bool, err error) {
	c, err := r.peek()
	if err != nil {
		return 0, false, err
	}
	switch {
	case c <= 0x7f:
		r.off++
		return uint64(c), false, nil
	case c >= 0xe0:
		r.off++
		return uint64(int64(int8(c))), true, nil
	case c >= 0xcc && c <= 0xcf:
		r.off++
		v, err := r.uintN(1<<(c-0xcc), "integer")
		return v, false, err
	case c >= 0xd0 && c <= 0xd3:
		r.off++
		n := 1 << (c - 0xd0)
		v, err := r.uintN(n, "integer")
		if err != nil {
			return 0, false, err
		}
		// sign-extend
		shift := uint(64 - 8*n)
		s := int64(v<<shift) >> shift
		return uint64(s), s < 0, nil
	}
	return 0, false, r.errKind("integer", c)
}

// int64Value reads an integer that must fit in an int64.
func (r *reader) int64Value(what string) (int64, error) {
	at := r.off
	bits, neg, err := r.integer()
	if err != nil {
		return 0, err
	}
	if !neg && bits > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %s %d at offset %d exceeds int64", ErrSchema, what, bits, at)
	}
	return int64(bits), nil
}

// float reads a float64, float32 or integer as a float64 (msgspec accepts an
// integer where a float is declared).
func (r *reader) float() (float64, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	switch c {
	case 0xcb:
		r.off++
		v, err := r.uintN(8, "float64")
		return math.Float64frombits(v), err
	case 0xca:
		r.off++
		v, err := r.uintN(4, "float32")
		return float64(math.Float32frombits(uint32(v))), err
	}
	if isIntCode(c) {
		bits, neg, err := r.integer()
		if neg {
			return float64(int64(bits)), err
		}
		return float64(bits), err
	}
	return 0, r.errKind("float", c)
}

// skip consumes one complete value of any kind, following containers up to
// maxDepth levels.
func (r *reader) skip(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nesting deeper than %d at offset %d", ErrMalformed, maxDepth, r.off)
	}
	c, err := r.peek()
	if err != nil {
		return err
	}
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		r.off++
		return nil
	case isIntCode(c):
		_, _, err := r.integer()
		return err
	case c == 0xca || c == 0xcb:
		_, err := r.float()
		return err
	case c&0xe0 == 0xa0 || (c >= 0xd9 && c <= 0xdb) || (c >= 0xc4 && c <= 0xc6):
		_, _, err := r.strOrBin(true, true)
		return err
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		n, err := r.arrayLen()
		if err != nil {
			return err
		}
		for range n {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		n, err := r.mapLen()
		if err != nil {
			return err
		}
		for range 2 * n {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16: type byte + data
		r.off++
		_, err := r.take(1+(1<<(c-0xd4)), "ext")
		return err
	case c >= 0xc7 && c <= 0xc9: // ext 8, 16, 32
		r.off++
		n, err := r.uintN(1<<(c-0xc7), "ext length")
		if err != nil {
			return err
		}
		if n > uint64(r.remaining()) {
			return r.errTruncated("ext")
		}
		_, err = r.take(int(n)+1, "ext")
		return err
	}
	// 0xc1 is the only code left: reserved, never used.
	return fmt.Errorf("%w: reserved code 0xc1 at offset %d", ErrMalformed, r.off)
}

// codeName names the kind of value a msgpack code starts, for error messages.
func codeName(c byte) string {
	switch {
	case c == 0xc0:
		return "nil"
	case c == 0xc2 || c == 0xc3:
		return "bool"
	case isIntCode(c):
		return "integer"
	case c == 0xca || c == 0xcb:
		return "float"
	case c&0xe0 == 0xa0 || (c >= 0xd9 && c <= 0xdb):
		return "str"
	case c >= 0xc4 && c <= 0xc6:
		return "bin"
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		return "array"
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		return "map"
	case c == 0xc1:
		return "reserved code 0xc1"
	}
	return "ext"
}

// checkRawValue reports whether b holds exactly one well-formed msgpack value.
func checkRawValue(b []byte) error {
	r := reader{b: b}
	if err := r.skip(0); err != nil {
		return err
	}
	if r.off != len(b) {
		return fmt.Errorf("%w: %d bytes after the value", ErrMalformed, len(b)-r.off)
	}
	return nil
}
