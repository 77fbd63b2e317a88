package kvevents

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// EventType is the tag of a KV cache event: the vLLM class name on the wire.
type EventType uint8

const (
	// Unknown is an event whose tag this package does not know (a newer vLLM's).
	// The decoder keeps its tag and raw bytes so a batch still decodes and
	// re-encodes byte for byte; consumers should skip it.
	Unknown EventType = iota
	// BlockStored reports blocks newly cached (vLLM's BlockStored).
	BlockStored
	// BlockRemoved reports blocks evicted (vLLM's BlockRemoved).
	BlockRemoved
	// AllBlocksCleared reports that the engine dropped its whole prefix cache
	// (vLLM's AllBlocksCleared, sent on reset_prefix_cache).
	AllBlocksCleared
)

// Tag names as vLLM writes them in the "type" field (map layout) or as the first
// element (legacy array layout).
const (
	tagBlockStored      = "BlockStored"
	tagBlockRemoved     = "BlockRemoved"
	tagAllBlocksCleared = "AllBlocksCleared"
)

// String returns vLLM's tag for t ("BlockStored", ...), or "Unknown".
func (t EventType) String() string {
	switch t {
	case BlockStored:
		return tagBlockStored
	case BlockRemoved:
		return tagBlockRemoved
	case AllBlocksCleared:
		return tagAllBlocksCleared
	}
	return "Unknown"
}

// Media vLLM writes in the medium field. Other strings (e.g. a connector's own tier
// name) pass through unchanged.
const (
	MediumGPU = "GPU"
	MediumCPU = "CPU"
)

// Layout is the event layout of a batch on the wire.
type Layout uint8

const (
	// LayoutMap is vLLM's layout since #42892 (2026-06-09): each event is a msgpack
	// map whose first entry is "type", with defaulted fields left at nil omitted.
	LayoutMap Layout = iota
	// LayoutArray is the legacy layout (vLLM before 2026-06-09, and other engines
	// that copied it): each event is a positional array [tag, field, ...] carrying
	// every field.
	LayoutArray
)

// String returns "map" or "array".
func (l Layout) String() string {
	if l == LayoutArray {
		return "array"
	}
	return "map"
}

// Opt is an optional value: Python's None is the zero Opt (Valid false). vLLM
// distinguishes None from every value (a group_idx of 0 is written, None is not),
// so the codec needs the distinction to reproduce its bytes.
type Opt[T any] struct {
	Val   T
	Valid bool
}

// Some returns the present value v.
func Some[T any](v T) Opt[T] { return Opt[T]{Val: v, Valid: true} }

// Get returns the value and whether it is present.
func (o Opt[T]) Get() (T, bool) { return o.Val, o.Valid }

// BlockHash is a block hash as vLLM sends it: by default (env
// VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1) the 64-bit form, an unsigned integer made of
// the last 8 bytes of the digest read big-endian; otherwise the raw digest bytes.
// Engines that send signed 64-bit hashes (SGLang) are kept exactly too.
//
// Invariant: Bytes != nil ⇒ Value == 0 && !Negative (a bytes hash has no integer
// part); Negative ⇒ int64(Value) < 0.
type BlockHash struct {
	// Value is the integer form (two's-complement bits when Negative).
	Value uint64
	// Negative reports that the publisher sent a negative integer (a signed
	// int64 hash); Value then holds its bits.
	Negative bool
	// Bytes is the raw digest when the publisher sent bytes (msgpack bin); nil for
	// the integer form.
	Bytes []byte
}

// HashUint64 returns the integer-form hash v (vLLM's default).
func HashUint64(v uint64) BlockHash { return BlockHash{Value: v} }

// HashInt64 returns the integer-form hash v as a signed engine sends it; a
// negative v is re-encoded as a negative msgpack integer.
func HashInt64(v int64) BlockHash { return BlockHash{Value: uint64(v), Negative: v < 0} }

// HashBytes returns the raw-digest hash b (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0).
// b must not be nil; it is not copied.
func HashBytes(b []byte) BlockHash {
	if b == nil {
		b = []byte{}
	}
	return BlockHash{Bytes: b}
}

// IsBytes reports whether the hash travels as raw digest bytes.
func (h BlockHash) IsBytes() bool { return h.Bytes != nil }

// Key returns the 64-bit key an index should use, the same for both forms of one
// vLLM block: the integer itself (its bits, when negative), or for a raw digest
// vLLM's conversion to the integer form (the last 8 bytes, big-endian; a shorter
// digest is read whole).
func (h BlockHash) Key() uint64 {
	if h.Bytes == nil {
		return h.Value
	}
	b := h.Bytes
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b[len(b)-8:])
	}
	var k uint64
	for _, c := range b {
		k = k<<8 | uint64(c)
	}
	return k
}

// Equal reports whether h and o are the same hash in the same form.
func (h BlockHash) Equal(o BlockHash) bool {
	if (h.Bytes == nil) != (o.Bytes == nil) {
		return false
	}
	if h.Bytes != nil {
		return bytes.Equal(h.Bytes, o.Bytes)
	}
	return h.Value == o.Value && h.Negative == o.Negative
}

// String formats the integer form in decimal (signed when Negative) and the bytes
// form in hex.
func (h BlockHash) String() string {
	switch {
	case h.Bytes != nil:
		return fmt.Sprintf("0x%x", h.Bytes)
	case h.Negative:
		return fmt.Sprint(int64(h.Value))
	}
	return fmt.Sprint(h.Value)
}

func (h BlockHash) check() error {
	if h.Bytes != nil && (h.Value != 0 || h.Negative) {
		return fmt.Errorf("%w: block hash has both bytes and an integer", ErrInvalidEvent)
	}
	if h.Negative && int64(h.Value) >= 0 {
		return fmt.Errorf("%w: block hash marked negative holds %d", ErrInvalidEvent, h.Value)
	}
	return nil
}

// Event is one KV cache event, the union of vLLM's BlockStored, BlockRemoved and
// AllBlocksCleared. Type says which; a field that Type does not have must be left
// at its zero value (the encoder rejects the event otherwise, and the decoder never
// sets it). Field names, order and meaning follow vLLM's kv_events.py; the comment
// of each field names the types that carry it and what None means.
type Event struct {
	Type EventType

	// BlockHashes (Stored, Removed; required): the blocks, in chain order. vLLM
	// sends one hash per BlockRemoved event.
	BlockHashes []BlockHash
	// ParentBlockHash (Stored; required, None allowed): the hash of the block
	// before BlockHashes[0]; None when the first stored block is block 0.
	ParentBlockHash Opt[BlockHash]
	// TokenIDs (Stored; required): every token of the stored blocks.
	TokenIDs []int32
	// BlockSize (Stored; required): tokens per block.
	BlockSize int
	// LoraID (Stored; required, None allowed): the adapter's integer id
	// (deprecated by vLLM in favour of LoraName).
	LoraID Opt[int64]
	// Medium (Stored, Removed; required, None allowed): the tier, MediumGPU or
	// MediumCPU (or a connector's own name).
	Medium Opt[string]
	// LoraName (Stored; required, None allowed): the adapter name.
	LoraName Opt[string]
	// ExtraKeys (Stored; default None): one entry per block, nil (None) or the
	// tuple of extra keys that was hashed for it, as a []any of nil, bool, int64,
	// uint64 (above MaxInt64), float64, string, []byte and nested []any (a
	// multimodal key is []any{identifier, offset}). Encode also accepts int.
	ExtraKeys Opt[[]any]
	// GroupIdx (Stored, Removed; default None): the KV-cache group.
	GroupIdx Opt[int64]
	// KVCacheSpecKind (Stored; default None): e.g. "full_attention",
	// "sliding_window".
	KVCacheSpecKind Opt[string]
	// KVCacheSpecSlidingWindow (Stored; default None): the window, in tokens.
	KVCacheSpecSlidingWindow Opt[int64]
	// Locality (Stored, Removed; default None; map layout only): e.g. "LOCAL".
	Locality Opt[string]

	// Tag and Raw (Unknown only): the tag the decoder did not know and the exact
	// msgpack bytes of the event, written back verbatim by the encoder.
	Tag string
	Raw []byte
}

// Batch is vLLM's KVEventBatch: the events of one engine step. On the wire it is
// always the 3-element array [ts, events, data_parallel_rank].
type Batch struct {
	// TS is the engine's wall clock (Unix seconds) when the batch was built.
	TS float64
	// Events in the order the engine emitted them; consumers must apply them in
	// this order.
	Events []Event
	// DataParallelRank is the publishing engine's data-parallel rank; None only
	// before a publisher stamps it.
	DataParallelRank Opt[int64]
	// Layout is the event layout: the decoder records the one it read (the first
	// event's; LayoutMap for a batch without events) and the encoder writes it.
	Layout Layout

	arena arena // decoder memory reused by the next Decode into this Batch
}

// Validate reports the first reason e cannot be encoded in layout l, wrapped
// around ErrInvalidEvent, or nil.
func (e *Event) Validate(l Layout) error {
	if err := e.checkLengths(); err != nil {
		return err
	}
	switch e.Type {
	case BlockStored:
		if err := checkHashes(e.BlockHashes); err != nil {
			return err
		}
		if e.ParentBlockHash.Valid {
			if err := e.ParentBlockHash.Val.check(); err != nil {
				return err
			}
		}
		if e.ExtraKeys.Valid {
			for i, k := range e.ExtraKeys.Val {
				if k == nil {
					continue
				}
				tuple, ok := k.([]any)
				if !ok {
					return fmt.Errorf("%w: extra_keys[%d] is %T, want nil or []any", ErrInvalidEvent, i, k)
				}
				if err := checkGeneric(tuple, 1); err != nil {
					return fmt.Errorf("extra_keys[%d]: %w", i, err)
				}
			}
		}
		if l == LayoutArray && e.Locality.Valid {
			return fmt.Errorf("%w: locality has no place in the legacy array layout", ErrInvalidEvent)
		}
		return e.foreign()
	case BlockRemoved:
		if err := checkHashes(e.BlockHashes); err != nil {
			return err
		}
		if l == LayoutArray && e.Locality.Valid {
			return fmt.Errorf("%w: locality has no place in the legacy array layout", ErrInvalidEvent)
		}
		if e.hasStoredOnly() {
			return fmt.Errorf("%w: BlockRemoved carries a BlockStored-only field", ErrInvalidEvent)
		}
		return e.foreign()
	case AllBlocksCleared:
		if len(e.BlockHashes) != 0 || e.Medium.Valid || e.GroupIdx.Valid || e.Locality.Valid || e.hasStoredOnly() {
			return fmt.Errorf("%w: AllBlocksCleared carries a field", ErrInvalidEvent)
		}
		return e.foreign()
	case Unknown:
		if len(e.Raw) == 0 {
			return fmt.Errorf("%w: Unknown event without raw bytes", ErrInvalidEvent)
		}
		if err := checkRawValue(e.Raw); err != nil {
			return fmt.Errorf("%w: raw bytes of Unknown event %q: %v", ErrInvalidEvent, e.Tag, err)
		}
		return nil
	}
	return fmt.Errorf("%w: event type %d", ErrInvalidEvent, e.Type)
}

// hasStoredOnly reports whether a field only BlockStored has is set.
func (e *Event) hasStoredOnly() bool {
	return e.ParentBlockHash.Valid || len(e.TokenIDs) != 0 || e.BlockSize != 0 || e.LoraID.Valid ||
		e.LoraName.Valid || e.ExtraKeys.Valid || e.KVCacheSpecKind.Valid || e.KVCacheSpecSlidingWindow.Valid
}

// foreign reports Tag/Raw set on a known event.
func (e *Event) foreign() error {
	if e.Tag != "" || len(e.Raw) != 0 {
		return fmt.Errorf("%w: %s carries Tag/Raw (Unknown only)", ErrInvalidEvent, e.Type)
	}
	return nil
}

func checkHashes(hs []BlockHash) error {
	for i := range hs {
		if err := hs[i].check(); err != nil {
			return fmt.Errorf("block_hashes[%d]: %w", i, err)
		}
	}
	return nil
}

// Validate reports the first reason b cannot be encoded, wrapped around
// ErrInvalidEvent, or nil.
func (b *Batch) Validate() error {
	if b.Layout != LayoutMap && b.Layout != LayoutArray {
		return fmt.Errorf("%w: layout %d", ErrInvalidEvent, b.Layout)
	}
	if tooLong(len(b.Events)) {
		return fmt.Errorf("%w: %d events do not fit a msgpack array header", ErrInvalidEvent, len(b.Events))
	}
	for i := range b.Events {
		if err := b.Events[i].Validate(b.Layout); err != nil {
			return fmt.Errorf("events[%d]: %w", i, err)
		}
	}
	return nil
}

// maxLen32 is the longest array, string or byte string a msgpack header can declare.
const maxLen32 uint64 = 1<<32 - 1

// tooLong reports whether a length exceeds maxLen32 (never on 32-bit platforms).
func tooLong(n int) bool { return uint64(n) > maxLen32 }

// checkLengths refuses slices and strings too long for a 32-bit msgpack length header
// (the encoder would otherwise write a truncated header: corrupt msgpack).
func (e *Event) checkLengths() error {
	long := tooLong(len(e.BlockHashes)) || tooLong(len(e.TokenIDs)) || tooLong(len(e.Raw)) ||
		tooLong(len(e.Medium.Val)) || tooLong(len(e.LoraName.Val)) || tooLong(len(e.KVCacheSpecKind.Val)) ||
		tooLong(len(e.Locality.Val)) || tooLong(len(e.Tag)) || tooLong(len(e.ExtraKeys.Val)) ||
		(e.ParentBlockHash.Valid && tooLong(len(e.ParentBlockHash.Val.Bytes)))
	for i := range e.BlockHashes {
		long = long || tooLong(len(e.BlockHashes[i].Bytes))
	}
	if long {
		return fmt.Errorf("%w: a field longer than %d elements or bytes does not fit msgpack", ErrInvalidEvent, maxLen32)
	}
	return nil
}
