package kvevents

import (
	"fmt"
	"math"
)

// MapEntry is one entry of a msgpack map met inside extra keys (vLLM never sends
// one; other engines might). Maps decode to []MapEntry in wire order, so they
// re-encode byte for byte.
type MapEntry struct {
	Key, Value any
}

// genericValue decodes one value of any kind (the contents of an extra-keys tuple)
// into nil, bool, int64, uint64 (above MaxInt64 only), float64, string, []byte
// (copied), []any or []MapEntry. Extension types are refused with ErrSchema.
func (r *reader) genericValue(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nesting deeper than %d at offset %d", ErrMalformed, maxDepth, r.off)
	}
	c, err := r.peek()
	if err != nil {
		return nil, err
	}
	switch {
	case c == 0xc0:
		r.off++
		return nil, nil
	case c == 0xc2 || c == 0xc3:
		r.off++
		return c == 0xc3, nil
	case isIntCode(c):
		bits, neg, err := r.integer()
		if err != nil {
			return nil, err
		}
		if !neg && bits > math.MaxInt64 {
			return bits, nil
		}
		return int64(bits), nil
	case c == 0xca || c == 0xcb:
		return r.float()
	case c&0xe0 == 0xa0 || (c >= 0xd9 && c <= 0xdb) || (c >= 0xc4 && c <= 0xc6):
		b, isBin, err := r.strOrBin(true, true)
		if err != nil {
			return nil, err
		}
		if isBin {
			return append(make([]byte, 0, len(b)), b...), nil
		}
		return string(b), nil
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		n, err := r.arrayLen()
		if err != nil {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = r.genericValue(depth + 1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		n, err := r.mapLen()
		if err != nil {
			return nil, err
		}
		out := make([]MapEntry, n)
		for i := range out {
			if out[i].Key, err = r.genericValue(depth + 1); err != nil {
				return nil, err
			}
			if out[i].Value, err = r.genericValue(depth + 1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case c == 0xc1:
		return nil, fmt.Errorf("%w: reserved code 0xc1 at offset %d", ErrMalformed, r.off)
	}
	return nil, r.errKind("a plain value (extension types are not supported)", c)
}

// checkGeneric reports whether v can be encoded as a generic value.
func checkGeneric(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: extra keys nested deeper than %d", ErrInvalidEvent, maxDepth)
	}
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
		float32, float64, string, []byte:
		return nil
	case []any:
		for _, e := range x {
			if err := checkGeneric(e, depth+1); err != nil {
				return err
			}
		}
		return nil
	case []MapEntry:
		for _, e := range x {
			if err := checkGeneric(e.Key, depth+1); err != nil {
				return err
			}
			if err := checkGeneric(e.Value, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: extra-key value of type %T", ErrInvalidEvent, v)
}
