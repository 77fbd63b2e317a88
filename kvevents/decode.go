package kvevents

import (
	"fmt"
)

// Decoder decodes vLLM KVEventBatch payloads, reusing memory between calls so that
// steady-state decoding allocates nothing but new strings and extra keys. The zero
// value is ready to use. A Decoder is not safe for concurrent use.
//
// The decoder accepts what vLLM's msgspec decoder accepts and a little more: both
// event layouts, event-map keys in any order, unknown keys (ignored), fields missing
// from older publishers (left None), integers where a float is declared, and events
// with an unknown tag (kept as Unknown with their raw bytes). It refuses, with an
// error wrapping ErrMalformed or ErrSchema, anything else — and never panics or
// allocates more than 200 bytes per payload byte (the worst case: a payload of
// 2-byte events, each of which takes a whole Event in memory).
type Decoder struct {
	scratch Batch
	strs    map[string]string // interned strings seen in payloads, bounded by maxInterned
}

// minEventBytes is the size of the smallest event on the wire: an array holding one
// empty string, [""] (an Unknown event).
const minEventBytes = 2

// maxDecodeAllocRatio bounds the bytes a Decode allocates per payload byte. The worst
// payload is made of the smallest events, each of which costs a whole Event (328
// bytes on 64-bit platforms) for minEventBytes on the wire; hashes cost 40 bytes for
// at least 1, extra keys 16 for 1. Batches shaped like vLLM's cost about 3 (tested in
// TestDecodeMemoryBound).
const maxDecodeAllocRatio = 200

// maxInterned bounds the decoder's string cache (media, LoRA names, cache-spec
// kinds: a handful per fleet); strings beyond it are allocated per use.
const maxInterned = 256

// Fields of the event structs, as bits of a "seen" mask.
const (
	fBlockHashes uint16 = 1 << iota
	fParent
	fTokenIDs
	fBlockSize
	fLoraID
	fMedium
	fLoraName
	fExtraKeys
	fGroupIdx
	fSpecKind
	fSlidingWindow
	fLocality
)

// Field order of the legacy array layout (vLLM commit 59401ac9f18c), after the tag.
var (
	legacyStored  = []uint16{fBlockHashes, fParent, fTokenIDs, fBlockSize, fLoraID, fMedium, fLoraName, fExtraKeys, fGroupIdx, fSpecKind, fSlidingWindow}
	legacyRemoved = []uint16{fBlockHashes, fMedium, fGroupIdx}
)

// Fields each type requires (the decoder's minimum: msgspec also requires the
// None-able ones, which older publishers may lack).
const (
	requiredStored  = fBlockHashes | fTokenIDs | fBlockSize
	requiredRemoved = fBlockHashes
	fieldsStored    = fBlockHashes | fParent | fTokenIDs | fBlockSize | fLoraID | fMedium | fLoraName | fExtraKeys | fGroupIdx | fSpecKind | fSlidingWindow | fLocality
	fieldsRemoved   = fBlockHashes | fMedium | fGroupIdx | fLocality
)

// DecodeBatch decodes one payload into a new Batch.
func DecodeBatch(payload []byte) (*Batch, error) {
	var d Decoder
	b := new(Batch)
	if err := d.Decode(payload, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Decode decodes payload into b. On success b holds the batch and the memory b held
// before is kept for reuse by later calls (so slices taken from b earlier must not
// be used after the next Decode with this Decoder); on error b is unchanged. Byte
// slices in b never alias payload.
func (d *Decoder) Decode(payload []byte, b *Batch) error {
	s := &d.scratch
	if err := d.decode(payload, s); err != nil {
		return err
	}
	*b, *s = *s, *b
	return nil
}

func (d *Decoder) decode(payload []byte, s *Batch) error {
	r := reader{b: payload}
	a := &s.arena
	a.reset()
	n, err := r.arrayLen()
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if n < 2 {
		return fmt.Errorf("%w: batch has %d elements, want [ts, events, data_parallel_rank]", ErrSchema, n)
	}
	if s.TS, err = r.float(); err != nil {
		return fmt.Errorf("batch ts: %w", err)
	}
	m, err := r.arrayLen()
	if err != nil {
		return fmt.Errorf("batch events: %w", err)
	}
	// Every event takes a whole Event in memory and at least minEventBytes on the
	// wire: check the count against that, then size Events once (growing it by
	// appends would allocate about five times its final size).
	if m > r.remaining()/minEventBytes {
		return fmt.Errorf("%w: %d events declared at offset %d, %d bytes remain", ErrMalformed, m, r.off, r.remaining())
	}
	if cap(s.Events) < m {
		s.Events = make([]Event, m)
	}
	s.Events = s.Events[:m]
	s.Layout = LayoutMap
	for i := range m {
		l, err := d.event(&r, a, &s.Events[i])
		if err != nil {
			return fmt.Errorf("events[%d]: %w", i, err)
		}
		if i == 0 {
			s.Layout = l
		}
	}
	s.DataParallelRank = Opt[int64]{}
	if n >= 3 && !r.nilValue() {
		v, err := r.int64Value("data_parallel_rank")
		if err != nil {
			return fmt.Errorf("batch data_parallel_rank: %w", err)
		}
		s.DataParallelRank = Some(v)
	}
	for range max(n-3, 0) { // fields of a newer batch schema
		if err := r.skip(1); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	if r.off != len(payload) {
		return fmt.Errorf("%w: %d bytes after the batch", ErrMalformed, len(payload)-r.off)
	}
	return nil
}

// arena holds the variable-length parts of a decoded Batch (token ids, hashes,
// digest and raw bytes) so a reused Batch decodes without allocating. Events'
// slices are full-capacity-limited windows into it.
type arena struct {
	tokens []int32
	hashes []BlockHash
	bytes  []byte
	keys   []any // the per-block entries of extra_keys
}

func (a *arena) reset() {
	a.tokens = a.tokens[:0]
	a.hashes = a.hashes[:0]
	clear(a.keys) // drop references to the previous batch's tuples
	a.keys = a.keys[:0]
	if a.bytes == nil {
		a.bytes = make([]byte, 0, 256)
	}
	a.bytes = a.bytes[:0]
}

// keepBytes copies b into the arena and returns the non-nil copy.
func (a *arena) keepBytes(b []byte) []byte {
	s := len(a.bytes)
	a.bytes = append(a.bytes, b...)
	return a.bytes[s:len(a.bytes):len(a.bytes)]
}

// event decodes one event in either layout and reports which.
func (d *Decoder) event(r *reader, a *arena, e *Event) (Layout, error) {
	*e = Event{}
	start := r.off
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	if c&0xf0 == 0x90 || c == 0xdc || c == 0xdd {
		return LayoutArray, d.arrayEvent(r, a, e, start)
	}
	n, err := r.mapLen()
	if err != nil {
		return 0, fmt.Errorf("event: %w", err)
	}
	// Find the tag: msgspec writes it first; accept it anywhere.
	body := r.off
	var tag []byte
	for i := 0; i < n && tag == nil; i++ {
		k, err := r.str()
		if err != nil {
			return 0, fmt.Errorf("event key: %w", err)
		}
		if string(k) == "type" {
			if tag, err = r.str(); err != nil {
				return 0, fmt.Errorf("event type: %w", err)
			}
			break
		}
		if err := r.skip(1); err != nil {
			return 0, err
		}
	}
	if tag == nil {
		return 0, fmt.Errorf("%w: event map without a \"type\"", ErrSchema)
	}
	e.Type = typeOf(tag)
	if e.Type == Unknown {
		r.off = body
		return LayoutMap, d.unknownEvent(r, a, e, tag, start, n, true)
	}
	allowed, required := fieldsStored, requiredStored
	switch e.Type {
	case BlockRemoved:
		allowed, required = fieldsRemoved, requiredRemoved
	case AllBlocksCleared:
		allowed, required = 0, 0
	}
	r.off = body
	var seen uint16
	for range n {
		k, err := r.str()
		if err != nil {
			return 0, fmt.Errorf("event key: %w", err)
		}
		f := fieldOf(k)
		if f == 0 || f&allowed == 0 { // "type", unknown keys and other types' fields
			if err := r.skip(1); err != nil {
				return 0, err
			}
			continue
		}
		if err := d.field(r, a, e, f); err != nil {
			return 0, fmt.Errorf("%s %s: %w", e.Type, k, err)
		}
		seen |= f
	}
	if seen&required != required {
		return 0, fmt.Errorf("%w: %s lacks a required field (block_hashes, token_ids, block_size)", ErrSchema, e.Type)
	}
	return LayoutMap, nil
}

// arrayEvent decodes a legacy positional event [tag, field, ...].
func (d *Decoder) arrayEvent(r *reader, a *arena, e *Event, start int) error {
	n, err := r.arrayLen()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: empty event array", ErrSchema)
	}
	tag, err := r.str()
	if err != nil {
		return fmt.Errorf("event tag: %w", err)
	}
	e.Type = typeOf(tag)
	var order []uint16
	var required int
	switch e.Type {
	case Unknown:
		return d.unknownEvent(r, a, e, tag, start, n-1, false)
	case BlockStored:
		order, required = legacyStored, 4
	case BlockRemoved:
		order, required = legacyRemoved, 1
	}
	if n-1 < required {
		return fmt.Errorf("%w: legacy %s has %d fields, want at least %d", ErrSchema, e.Type, n-1, required)
	}
	for i := range n - 1 {
		if i >= len(order) { // fields of a newer schema
			if err := r.skip(1); err != nil {
				return err
			}
			continue
		}
		if err := d.field(r, a, e, order[i]); err != nil {
			return fmt.Errorf("legacy %s field %d: %w", e.Type, i, err)
		}
	}
	return nil
}

// unknownEvent skips the rest of an event whose tag is not known and keeps its raw
// bytes; rest is the number of entries (map) or elements (array) left to skip.
func (d *Decoder) unknownEvent(r *reader, a *arena, e *Event, tag []byte, start, rest int, isMap bool) error {
	if isMap {
		rest *= 2
	}
	for range rest {
		if err := r.skip(1); err != nil {
			return err
		}
	}
	e.Type = Unknown
	e.Tag = d.intern(tag)
	e.Raw = a.keepBytes(r.b[start:r.off])
	return nil
}

func typeOf(tag []byte) EventType {
	switch string(tag) {
	case tagBlockStored:
		return BlockStored
	case tagBlockRemoved:
		return BlockRemoved
	case tagAllBlocksCleared:
		return AllBlocksCleared
	}
	return Unknown
}

func fieldOf(k []byte) uint16 {
	switch string(k) {
	case "block_hashes":
		return fBlockHashes
	case "parent_block_hash":
		return fParent
	case "token_ids":
		return fTokenIDs
	case "block_size":
		return fBlockSize
	case "lora_id":
		return fLoraID
	case "medium":
		return fMedium
	case "lora_name":
		return fLoraName
	case "extra_keys":
		return fExtraKeys
	case "group_idx":
		return fGroupIdx
	case "kv_cache_spec_kind":
		return fSpecKind
	case "kv_cache_spec_sliding_window":
		return fSlidingWindow
	case "locality":
		return fLocality
	}
	return 0
}
