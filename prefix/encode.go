package prefix

import (
	"crypto/sha256"
	"encoding/binary"
	"unsafe"
)

// tokenBytes returns the tokens as little-endian int32 bytes: the tokens' own
// memory on little-endian machines, else a copy in scratch (returned too).
func tokenBytes(tokens []int32, scratch []byte) ([]byte, []byte) {
	if len(tokens) == 0 {
		return nil, scratch
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&tokens[0])), 4*len(tokens)), scratch
	}
	scratch = scratch[:0]
	for _, t := range tokens {
		scratch = binary.LittleEndian.AppendUint32(scratch, uint32(t))
	}
	return scratch, scratch
}

// littleEndian reports whether int32 values are stored little endian in memory, so a
// token slice's bytes are already the canonical encoding.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Extra-key tags in the canonical block encoding.
const (
	tagAdapter = 'L'
	tagMM      = 'M'
	tagSalt    = 'S'
	tagEmbeds  = 'E'
)

// encodeBlock appends pagedkv's canonical encoding of one block (used by its own
// Hashers, except XXH3's fast path for blocks without extra keys; vLLM schemes use
// vLLM's encodings instead) to buf and returns it, with the offset at which the
// extra-key section starts:
//
//	parent   uint64 little endian
//	n        uint32 little endian, number of tokens
//	tokens   n × int32 little endian
//	extras   zero or more of: 'L' len(uint32) adapter name
//	                          'M' len(uint32) item id, offset-from-block-start (int64)
//	                          'S' len(uint32) salt (block 0 only)
//	                          'E' SHA-256 of the block's prompt-embedding rows (32 bytes)
func encodeBlock(buf []byte, parent Hash, tokens []int32, ex *Extras, blockIdx, blockSize int) ([]byte, int) {
	buf = binary.LittleEndian.AppendUint64(buf, uint64(parent))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(tokens)))
	if littleEndian && len(tokens) > 0 {
		// Same bytes as the loop below, copied in one move.
		buf = append(buf, unsafe.Slice((*byte)(unsafe.Pointer(&tokens[0])), 4*len(tokens))...)
	} else {
		for _, t := range tokens {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(t))
		}
	}
	extraStart := len(buf)
	if ex.Adapter != "" {
		buf = appendString(append(buf, tagAdapter), ex.Adapter)
	}
	start, end := blockIdx*blockSize, (blockIdx+1)*blockSize
	for _, it := range ex.MM {
		if it.Offset >= end {
			break
		}
		if it.Offset+it.Length <= start {
			continue
		}
		buf = appendString(append(buf, tagMM), it.ID)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(int64(it.Offset-start)))
	}
	if blockIdx == 0 && ex.CacheSalt != "" {
		buf = appendString(append(buf, tagSalt), ex.CacheSalt)
	}
	if ex.hasEmbeds() {
		sum := sha256.Sum256(ex.embedRows(start, end))
		buf = append(append(buf, tagEmbeds), sum[:]...)
	}
	return buf, extraStart
}

func appendString(buf []byte, s string) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...)
}
