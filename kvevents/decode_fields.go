package kvevents

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Decoders of the event fields, into the batch's arena.

// field decodes the value of field f into e.
func (d *Decoder) field(r *reader, a *arena, e *Event, f uint16) error {
	var err error
	switch f {
	case fBlockHashes:
		e.BlockHashes, err = hashes(r, a)
	case fParent:
		if r.nilValue() {
			e.ParentBlockHash.Valid = false
			return nil
		}
		e.ParentBlockHash.Valid = true
		e.ParentBlockHash.Val, err = hash(r, a)
	case fTokenIDs:
		e.TokenIDs, err = tokens(r, a)
	case fBlockSize:
		var v int64
		if v, err = r.int64Value("block_size"); err == nil && (v > math.MaxInt || v < math.MinInt) {
			err = fmt.Errorf("%w: block_size %d", ErrSchema, v)
		}
		e.BlockSize = int(v)
	case fLoraID:
		e.LoraID, err = optInt(r, "lora_id")
	case fMedium:
		e.Medium, err = d.optStr(r)
	case fLoraName:
		e.LoraName, err = d.optStr(r)
	case fExtraKeys:
		e.ExtraKeys, err = extraKeys(r, a)
	case fGroupIdx:
		e.GroupIdx, err = optInt(r, "group_idx")
	case fSpecKind:
		e.KVCacheSpecKind, err = d.optStr(r)
	case fSlidingWindow:
		e.KVCacheSpecSlidingWindow, err = optInt(r, "kv_cache_spec_sliding_window")
	case fLocality:
		e.Locality, err = d.optStr(r)
	}
	return err
}

func hashes(r *reader, a *arena) ([]BlockHash, error) {
	n, err := r.arrayLen()
	if err != nil {
		return nil, err
	}
	s := len(a.hashes)
	a.hashes = slices.Grow(a.hashes, n) // n ≤ the bytes left
	for i := range n {
		h, err := hash(r, a)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		a.hashes = append(a.hashes, h)
	}
	return a.hashes[s:len(a.hashes):len(a.hashes)], nil
}

// hash decodes an integer or bin block hash.
func hash(r *reader, a *arena) (BlockHash, error) {
	if b, off := r.b, r.off; off+8 < len(b) && b[off] == 0xcf { // vLLM's usual form
		r.off = off + 9
		return BlockHash{Value: binary.BigEndian.Uint64(b[off+1:])}, nil
	}
	c, err := r.peek()
	if err != nil {
		return BlockHash{}, err
	}
	if isIntCode(c) {
		bits, neg, err := r.integer()
		return BlockHash{Value: bits, Negative: neg}, err
	}
	b, _, err := r.strOrBin(false, true)
	if err != nil {
		return BlockHash{}, fmt.Errorf("block hash: %w", err)
	}
	return BlockHash{Bytes: a.keepBytes(b)}, nil
}

func tokens(r *reader, a *arena) ([]int32, error) {
	n, err := r.arrayLen()
	if err != nil {
		return nil, err
	}
	s := len(a.tokens)
	a.tokens = slices.Grow(a.tokens, n) // n ≤ the bytes left
	for i := range n {
		// Fast path for the forms token ids take (fixint, uint8/16/32); others,
		// and every error, go through the general reader.
		var v int64
		b, off := r.b, r.off
		switch {
		case off < len(b) && b[off] <= 0x7f:
			v, r.off = int64(b[off]), off+1
		case off+2 < len(b) && b[off] == 0xcd:
			v, r.off = int64(binary.BigEndian.Uint16(b[off+1:])), off+3
		case off+4 < len(b) && b[off] == 0xce && b[off+1] < 0x80:
			v, r.off = int64(binary.BigEndian.Uint32(b[off+1:])), off+5
		case off+1 < len(b) && b[off] == 0xcc:
			v, r.off = int64(b[off+1]), off+2
		default:
			if v, err = r.int64Value("token id"); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if v > math.MaxInt32 || v < math.MinInt32 {
				return nil, fmt.Errorf("%w: token id [%d] = %d exceeds int32", ErrSchema, i, v)
			}
		}
		a.tokens = append(a.tokens, int32(v))
	}
	return a.tokens[s:len(a.tokens):len(a.tokens)], nil
}

func optInt(r *reader, what string) (Opt[int64], error) {
	if r.nilValue() {
		return Opt[int64]{}, nil
	}
	v, err := r.int64Value(what)
	return Some(v), err
}

func (d *Decoder) optStr(r *reader) (Opt[string], error) {
	if r.nilValue() {
		return Opt[string]{}, nil
	}
	b, err := r.str()
	if err != nil {
		return Opt[string]{}, err
	}
	return Some(d.intern(b)), nil
}

// extraKeys decodes list[tuple[Any, ...] | None] | None.
func extraKeys(r *reader, a *arena) (Opt[[]any], error) {
	if r.nilValue() {
		return Opt[[]any]{}, nil
	}
	n, err := r.arrayLen()
	if err != nil {
		return Opt[[]any]{}, err
	}
	s := len(a.keys)
	a.keys = slices.Grow(a.keys, n) // n ≤ the bytes left
	for i := range n {
		var k any
		if !r.nilValue() {
			if c, err := r.peek(); err != nil {
				return Opt[[]any]{}, err
			} else if !(c&0xf0 == 0x90 || c == 0xdc || c == 0xdd) {
				return Opt[[]any]{}, fmt.Errorf("[%d]: %w", i, r.errKind("tuple or nil", c))
			}
			if k, err = r.genericValue(1); err != nil {
				return Opt[[]any]{}, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		a.keys = append(a.keys, k)
	}
	return Some(a.keys[s:len(a.keys):len(a.keys)]), nil
}

// Interned strings every vLLM fleet sends.
var wellKnown = map[string]string{
	MediumGPU: MediumGPU, MediumCPU: MediumCPU,
	"full_attention": "full_attention", "sliding_window": "sliding_window",
	"mamba": "mamba", "LOCAL": "LOCAL",
}

// intern returns b as a string without allocating when it was seen before.
func (d *Decoder) intern(b []byte) string {
	if s, ok := wellKnown[string(b)]; ok {
		return s
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.strs == nil {
		d.strs = make(map[string]string)
	}
	if len(d.strs) < maxInterned && len(s) <= 256 {
		d.strs[s] = s
	}
	return s
}
