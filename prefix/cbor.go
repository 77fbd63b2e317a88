package prefix

// A canonical CBOR (RFC 8949 §4.2.1, "core deterministic encoding") encoder for
// exactly the values vLLM's CBOR block hashes are made of: unsigned and negative
// integers, byte strings, text strings, definite-length arrays and null. Every
// function appends to a caller's buffer and allocates nothing once the buffer has
// grown. Integer arguments use the shortest form, as cbor2.dumps(canonical=True)
// writes them; lengths are always definite.
//
// Range: Python ints are unbounded and cbor2 writes those beyond 64 bits as bignums
// (tags 2/3). The values hashed here never reach that: token ids are int32 and
// multimodal offsets Go ints, so every integer fits major type 0 or 1.

// CBOR major types, already shifted into the initial byte's top three bits.
const (
	cborMajorUint  = 0 << 5
	cborMajorNeg   = 1 << 5
	cborMajorBytes = 2 << 5
	cborMajorText  = 3 << 5
	cborMajorArray = 4 << 5
	cborNull       = 0xf6
)

// cborHead appends the initial byte(s) of an item of the given major type with
// argument n in its shortest form.
func cborHead(buf []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(buf, major|byte(n))
	case n <= 0xff:
		return append(buf, major|24, byte(n))
	case n <= 0xffff:
		return append(buf, major|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(buf, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(buf, major|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// cborUint appends the unsigned integer v (major type 0).
func cborUint(buf []byte, v uint64) []byte { return cborHead(buf, cborMajorUint, v) }

// cborInt appends the integer v: major type 0 if v ≥ 0, else major type 1 with
// argument -1-v.
func cborInt(buf []byte, v int64) []byte {
	if v >= 0 {
		return cborHead(buf, cborMajorUint, uint64(v))
	}
	return cborHead(buf, cborMajorNeg, ^uint64(v)) // ^v == -1-v
}

// cborBytes appends a byte string (major type 2).
func cborBytes(buf, b []byte) []byte {
	return append(cborHead(buf, cborMajorBytes, uint64(len(b))), b...)
}

// cborText appends a text string (major type 3). s is written as its bytes; vLLM's
// strings are Python str, hence always valid UTF-8.
func cborText(buf []byte, s string) []byte {
	return append(cborHead(buf, cborMajorText, uint64(len(s))), s...)
}

// cborArray appends the head of a definite-length array of n items; the caller
// appends the items.
func cborArray(buf []byte, n int) []byte { return cborHead(buf, cborMajorArray, uint64(n)) }

// cborInt32s appends the array of integers ts. It writes what cborArray plus
// cborInt per element would, in one loop over a pre-grown buffer (token ids are the
// bulk of a block's bytes). A branch-free variant (widths from bits.Len32 and a
// table) measured slower: about 10 against 5 µs of CPU per 2,048 tokens.
func cborInt32s(buf []byte, ts []int32) []byte {
	buf = cborArray(buf, len(ts))
	if cap(buf)-len(buf) < 5*len(ts) {
		buf = append(buf, make([]byte, 5*len(ts))...)[:len(buf)]
	}
	n := len(buf)
	buf = buf[:cap(buf)]
	for _, t := range ts {
		major := byte(cborMajorUint)
		u := uint32(t)
		if t < 0 {
			major, u = cborMajorNeg, ^uint32(t) // ^t == -1-t
		}
		switch {
		case u < 24:
			buf[n] = major | byte(u)
			n++
		case u <= 0xff:
			buf[n], buf[n+1] = major|24, byte(u)
			n += 2
		case u <= 0xffff:
			buf[n], buf[n+1], buf[n+2] = major|25, byte(u>>8), byte(u)
			n += 3
		default:
			buf[n], buf[n+1], buf[n+2], buf[n+3], buf[n+4] = major|26, byte(u>>24), byte(u>>16), byte(u>>8), byte(u)
			n += 5
		}
	}
	return buf[:n]
}
