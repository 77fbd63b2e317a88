package prefix

import "encoding/binary"

// A pickle protocol 5 writer for exactly the values vLLM's "sha256" and "xxhash"
// block hashes serialize (pickle.dumps(x, protocol=5), CPython's C pickler): a tuple
// of (bytes, tuple of ints, None or a tuple of str / (str, int) / bytes). It writes
// what CPython writes for those shapes: the PROTO header, 8-byte-length FRAMEs (a
// frame is closed at the end of any object once it holds 64 KiB, and payloads of 64
// KiB or more are written outside frames), MEMOIZE after every bytes, str and
// non-empty tuple, and a BINGET where CPython meets the same object again.
//
// Object identity is the one thing values cannot tell: see VLLM for the assumption
// made (distinct keys, except CPython's shared one-character and empty strings).

// Pickle opcodes used here (Lib/pickletools.py names them).
const (
	pkMark            = '('
	pkStop            = '.'
	pkBinInt          = 'J'
	pkBinInt1         = 'K'
	pkBinInt2         = 'M'
	pkNone            = 'N'
	pkBinUnicode      = 'X'
	pkBinGet          = 'h'
	pkLongBinGet      = 'j'
	pkTuple           = 't'
	pkEmptyTuple      = ')'
	pkBinBytes        = 'B'
	pkShortBinBytes   = 'C'
	pkProto           = 0x80
	pkTuple1          = 0x85
	pkLong1           = 0x8a
	pkShortBinUnicode = 0x8c
	pkBinUnicode8     = 0x8d
	pkBinBytes8       = 0x8e
	pkMemoize         = 0x94
	pkFrame           = 0x95

	pkFrameHeader = 9         // FRAME opcode + 8-byte length
	pkFrameTarget = 64 * 1024 // CPython's FRAME_SIZE_TARGET
	pkFrameMin    = 4         // CPython's FRAME_SIZE_MIN: shorter frames lose their header
)

// pickler writes one pickle at a time into a reused buffer. The zero value is ready.
type pickler struct {
	buf        []byte
	frameStart int  // offset of the open frame's header, -1 if none
	framing    bool // frames are written (off while a large payload bypasses them)
	memo       int  // objects memoized so far (the next MEMOIZE's index)
	shared     []pkShared
}

// pkShared is a string CPython keeps as one object (empty or one Latin-1 character)
// that this pickle has memoized.
type pkShared struct {
	s   string
	idx int
}

func (p *pickler) begin(buf []byte) {
	p.buf = append(buf, pkProto, 5)
	p.framing, p.frameStart, p.memo, p.shared = true, -1, 0, p.shared[:0]
}

func (p *pickler) end() []byte {
	p.write(pkStop)
	p.commitFrame()
	return p.buf
}

// open starts a frame if framing is on and none is open (CPython's _Pickler_Write).
func (p *pickler) open() {
	if p.framing && p.frameStart < 0 {
		p.frameStart = len(p.buf)
		p.buf = append(p.buf, make([]byte, pkFrameHeader)...)
	}
}

func (p *pickler) write(b ...byte) {
	p.open()
	p.buf = append(p.buf, b...)
}

func (p *pickler) commitFrame() {
	if !p.framing || p.frameStart < 0 {
		return
	}
	n := len(p.buf) - p.frameStart - pkFrameHeader
	if n >= pkFrameMin {
		p.buf[p.frameStart] = pkFrame
		binary.LittleEndian.PutUint64(p.buf[p.frameStart+1:], uint64(n))
	} else {
		copy(p.buf[p.frameStart:], p.buf[p.frameStart+pkFrameHeader:])
		p.buf = p.buf[:len(p.buf)-pkFrameHeader]
	}
	p.frameStart = -1
}

// boundary ends one object (CPython's _Pickler_OpcodeBoundary at the end of save):
// the open frame is closed once it holds FRAME_SIZE_TARGET bytes.
func (p *pickler) boundary() {
	if p.framing && p.frameStart >= 0 && len(p.buf)-p.frameStart-pkFrameHeader >= pkFrameTarget {
		p.commitFrame()
	}
}

// pkPayload writes an opcode header and its data (CPython's _Pickler_write_bytes):
// data of FRAME_SIZE_TARGET bytes or more goes outside any frame.
func pkPayload[T ~string | ~[]byte](p *pickler, header []byte, data T) {
	large := len(data) >= pkFrameTarget
	if large {
		p.commitFrame()
		p.framing = false
	}
	p.write(header...)
	p.buf = append(p.buf, data...)
	p.framing = true
}

func (p *pickler) memoize() {
	p.write(pkMemoize)
	p.memo++
}

func (p *pickler) get(idx int) {
	if idx < 256 {
		p.write(pkBinGet, byte(idx))
	} else {
		p.write(pkLongBinGet, byte(idx), byte(idx>>8), byte(idx>>16), byte(idx>>24))
	}
}

// int saves a Python int (save_long).
func (p *pickler) int(v int64) {
	switch {
	case v >= 0 && v <= 0xff:
		p.write(pkBinInt1, byte(v))
	case v >= 0 && v <= 0xffff:
		p.write(pkBinInt2, byte(v), byte(v>>8))
	case v >= -1<<31 && v < 1<<31:
		p.write(pkBinInt, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	default:
		// LONG1: minimal little-endian two's complement (5 to 8 bytes here).
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		n := 8
		for n > 1 && ((v < 0 && b[n-1] == 0xff && b[n-2]&0x80 != 0) || (v >= 0 && b[n-1] == 0 && b[n-2]&0x80 == 0)) {
			n--
		}
		p.write(pkLong1, byte(n))
		p.write(b[:n]...)
	}
	p.boundary()
}

// bytes saves a bytes object (save_bytes, protocol ≥ 3).
func (p *pickler) bytes(b []byte) {
	var h [9]byte
	pkPayload(p, sizedHeader(h[:0], pkShortBinBytes, pkBinBytes, pkBinBytes8, len(b)), b)
	p.memoize()
	p.boundary()
}

// str saves a str (save_unicode, protocol ≥ 4), or a BINGET if it is one of
// CPython's shared strings already memoized in this pickle.
func (p *pickler) str(s string) {
	shared := len(s) == 0 || len(s) == 1 && s[0] < 0x80 || len(s) == 2 && (s[0] == 0xc2 || s[0] == 0xc3) && s[1]&0xc0 == 0x80
	if shared {
		for _, e := range p.shared {
			if e.s == s {
				p.get(e.idx)
				p.boundary()
				return
			}
		}
		p.shared = append(p.shared, pkShared{s, p.memo})
	}
	var h [9]byte
	pkPayload(p, sizedHeader(h[:0], pkShortBinUnicode, pkBinUnicode, pkBinUnicode8, len(s)), s)
	p.memoize()
	p.boundary()
}

func sizedHeader(h []byte, short, long, long8 byte, n int) []byte {
	switch {
	case n <= 0xff:
		return append(h, short, byte(n))
	case uint64(n) <= 0xffffffff:
		return binary.LittleEndian.AppendUint32(append(h, long), uint32(n))
	default:
		return binary.LittleEndian.AppendUint64(append(h, long8), uint64(n))
	}
}

// tupleStart and tupleEnd bracket the items of a tuple of n items (save_tuple).
func (p *pickler) tupleStart(n int) {
	if n > 3 {
		p.write(pkMark)
	}
}

func (p *pickler) tupleEnd(n int) {
	switch {
	case n == 0:
		p.write(pkEmptyTuple)
		p.boundary()
		return
	case n <= 3:
		p.write(pkTuple1 + byte(n-1))
	default:
		p.write(pkTuple)
	}
	p.memoize()
	p.boundary()
}

func (p *pickler) none() {
	p.write(pkNone)
	p.boundary()
}

// root appends pickle.dumps(seed): the bytes NONE_HASH hashes.
func (p *pickler) root(buf []byte, seed string) []byte {
	p.begin(buf)
	p.str(seed)
	return p.end()
}

// block appends pickle.dumps((parent, tuple(tokens), extra_keys)) and the offset at
// which extra_keys starts; nkeys and embedSum come from the caller (see
// vllmScheme.encodeBlock).
func (p *pickler) block(buf, parent []byte, tokens []int32, ex *Extras, sel []int32, start, nkeys int, embedSum []byte) ([]byte, int) {
	p.begin(buf)
	p.tupleStart(3)
	p.bytes(parent)
	p.tupleStart(len(tokens))
	for _, t := range tokens {
		p.int(int64(t))
	}
	p.tupleEnd(len(tokens))
	extraStart := len(p.buf)
	if nkeys == 0 {
		p.none()
	} else {
		p.tupleStart(nkeys)
		if ex.Adapter != "" {
			p.str(ex.Adapter)
		}
		for _, i := range sel {
			it := &ex.MM[i]
			p.tupleStart(2)
			p.str(it.ID)
			p.int(int64(it.Offset - start))
			p.tupleEnd(2)
		}
		if start == 0 && ex.CacheSalt != "" {
			p.str(ex.CacheSalt)
		}
		if ex.hasEmbeds() {
			p.bytes(embedSum)
		}
		p.tupleEnd(nkeys)
	}
	p.tupleEnd(3)
	return p.end(), extraStart
}
