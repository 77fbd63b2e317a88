package kvevents

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// vmiEncoder is a second encoder written on vmihailenco/msgpack's low-level
// Encoder (whose header and scalar choices are msgspec's), kept as an oracle: every
// batch the tests and fuzzers encode must come out byte-identical from both.
type vmiEncoder struct {
	w   appendWriter
	enc *msgpack.Encoder
}

// appendWriter lets the msgpack encoder append to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (e *vmiEncoder) Append(dst []byte, b *Batch) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return dst, err
	}
	if e.enc == nil {
		e.enc = msgpack.NewEncoder(&e.w)
	}
	e.w.b = dst
	e.batch(b)
	out := e.w.b
	e.w.b = nil
	return out, nil
}

// The writes below cannot fail: appendWriter never returns an error and b was
// validated. Their errors are therefore dropped.

// batch writes EventBatch (array_like: always 3 elements).
func (e *vmiEncoder) batch(b *Batch) {
	m := e.enc
	_ = m.EncodeArrayLen(3)
	_ = m.EncodeFloat64(b.TS)
	_ = m.EncodeArrayLen(len(b.Events))
	for i := range b.Events {
		if b.Layout == LayoutArray {
			e.arrayEvent(&b.Events[i])
		} else {
			e.mapEvent(&b.Events[i])
		}
	}
	e.optInt(b.DataParallelRank)
}

// mapEvent writes an event as a map: the tag first, then fields in declaration
// order; required fields always (nil for None), defaulted ones only when not None.
// msgspec sizes the map header from the declared field count (13 for BlockStored
// with its tag, 5 for BlockRemoved, 1 for AllBlocksCleared): all below 16, so the
// header is a fixmap, as EncodeMapLen writes for the entries actually present.
func (e *vmiEncoder) mapEvent(ev *Event) {
	m := e.enc
	switch ev.Type {
	case BlockStored:
		n := 8 + count(ev.ExtraKeys.Valid, ev.GroupIdx.Valid, ev.KVCacheSpecKind.Valid,
			ev.KVCacheSpecSlidingWindow.Valid, ev.Locality.Valid)
		_ = m.EncodeMapLen(n)
		e.key("type")
		_ = m.EncodeString(tagBlockStored)
		e.key("block_hashes")
		e.hashes(ev.BlockHashes)
		e.key("parent_block_hash")
		e.optHash(ev.ParentBlockHash)
		e.key("token_ids")
		e.tokens(ev.TokenIDs)
		e.key("block_size")
		_ = m.EncodeInt(int64(ev.BlockSize))
		e.key("lora_id")
		e.optInt(ev.LoraID)
		e.key("medium")
		e.optStr(ev.Medium)
		e.key("lora_name")
		e.optStr(ev.LoraName)
		if ev.ExtraKeys.Valid {
			e.key("extra_keys")
			e.extraKeys(ev.ExtraKeys.Val)
		}
		if ev.GroupIdx.Valid {
			e.key("group_idx")
			_ = m.EncodeInt(ev.GroupIdx.Val)
		}
		if ev.KVCacheSpecKind.Valid {
			e.key("kv_cache_spec_kind")
			_ = m.EncodeString(ev.KVCacheSpecKind.Val)
		}
		if ev.KVCacheSpecSlidingWindow.Valid {
			e.key("kv_cache_spec_sliding_window")
			_ = m.EncodeInt(ev.KVCacheSpecSlidingWindow.Val)
		}
		if ev.Locality.Valid {
			e.key("locality")
			_ = m.EncodeString(ev.Locality.Val)
		}
	case BlockRemoved:
		_ = m.EncodeMapLen(3 + count(ev.GroupIdx.Valid, ev.Locality.Valid))
		e.key("type")
		_ = m.EncodeString(tagBlockRemoved)
		e.key("block_hashes")
		e.hashes(ev.BlockHashes)
		e.key("medium")
		e.optStr(ev.Medium)
		if ev.GroupIdx.Valid {
			e.key("group_idx")
			_ = m.EncodeInt(ev.GroupIdx.Val)
		}
		if ev.Locality.Valid {
			e.key("locality")
			_ = m.EncodeString(ev.Locality.Val)
		}
	case AllBlocksCleared:
		_ = m.EncodeMapLen(1)
		e.key("type")
		_ = m.EncodeString(tagAllBlocksCleared)
	default:
		_, _ = e.w.Write(ev.Raw)
	}
}

// arrayEvent writes an event in the legacy layout: [tag, every field in order].
func (e *vmiEncoder) arrayEvent(ev *Event) {
	m := e.enc
	switch ev.Type {
	case BlockStored:
		_ = m.EncodeArrayLen(1 + len(legacyStored))
		_ = m.EncodeString(tagBlockStored)
		e.hashes(ev.BlockHashes)
		e.optHash(ev.ParentBlockHash)
		e.tokens(ev.TokenIDs)
		_ = m.EncodeInt(int64(ev.BlockSize))
		e.optInt(ev.LoraID)
		e.optStr(ev.Medium)
		e.optStr(ev.LoraName)
		if ev.ExtraKeys.Valid {
			e.extraKeys(ev.ExtraKeys.Val)
		} else {
			_ = m.EncodeNil()
		}
		e.optInt(ev.GroupIdx)
		e.optStr(ev.KVCacheSpecKind)
		e.optInt(ev.KVCacheSpecSlidingWindow)
	case BlockRemoved:
		_ = m.EncodeArrayLen(1 + len(legacyRemoved))
		_ = m.EncodeString(tagBlockRemoved)
		e.hashes(ev.BlockHashes)
		e.optStr(ev.Medium)
		e.optInt(ev.GroupIdx)
	case AllBlocksCleared:
		_ = m.EncodeArrayLen(1)
		_ = m.EncodeString(tagAllBlocksCleared)
	default:
		_, _ = e.w.Write(ev.Raw)
	}
}

func (e *vmiEncoder) key(k string) { _ = e.enc.EncodeString(k) }

func (e *vmiEncoder) hash(h BlockHash) {
	switch {
	case h.Bytes != nil:
		_ = e.enc.EncodeBytes(h.Bytes)
	case h.Negative:
		_ = e.enc.EncodeInt(int64(h.Value))
	default:
		_ = e.enc.EncodeUint(h.Value)
	}
}

func (e *vmiEncoder) hashes(hs []BlockHash) {
	_ = e.enc.EncodeArrayLen(len(hs))
	for _, h := range hs {
		e.hash(h)
	}
}

func (e *vmiEncoder) optHash(o Opt[BlockHash]) {
	if !o.Valid {
		_ = e.enc.EncodeNil()
		return
	}
	e.hash(o.Val)
}

func (e *vmiEncoder) tokens(ts []int32) {
	_ = e.enc.EncodeArrayLen(len(ts))
	for _, t := range ts {
		_ = e.enc.EncodeInt(int64(t))
	}
}

func (e *vmiEncoder) optInt(o Opt[int64]) {
	if !o.Valid {
		_ = e.enc.EncodeNil()
		return
	}
	_ = e.enc.EncodeInt(o.Val)
}

func (e *vmiEncoder) optStr(o Opt[string]) {
	if !o.Valid {
		_ = e.enc.EncodeNil()
		return
	}
	_ = e.enc.EncodeString(o.Val)
}

func (e *vmiEncoder) extraKeys(keys []any) {
	_ = e.enc.EncodeArrayLen(len(keys))
	for _, k := range keys {
		e.generic(k)
	}
}

// generic writes a value checked by checkGeneric.
func (e *vmiEncoder) generic(v any) {
	m := e.enc
	switch x := v.(type) {
	case nil:
		_ = m.EncodeNil()
	case bool:
		_ = m.EncodeBool(x)
	case int:
		_ = m.EncodeInt(int64(x))
	case int8:
		_ = m.EncodeInt(int64(x))
	case int16:
		_ = m.EncodeInt(int64(x))
	case int32:
		_ = m.EncodeInt(int64(x))
	case int64:
		_ = m.EncodeInt(x)
	case uint:
		_ = m.EncodeUint(uint64(x))
	case uint8:
		_ = m.EncodeUint(uint64(x))
	case uint16:
		_ = m.EncodeUint(uint64(x))
	case uint32:
		_ = m.EncodeUint(uint64(x))
	case uint64:
		_ = m.EncodeUint(x)
	case float32:
		_ = m.EncodeFloat64(float64(x)) // Python has only float64
	case float64:
		_ = m.EncodeFloat64(x)
	case string:
		_ = m.EncodeString(x)
	case []byte:
		_ = m.EncodeBytesLen(len(x)) // a nil []byte is empty bytes, not None
		_, _ = e.w.Write(x)
	case []any:
		_ = m.EncodeArrayLen(len(x))
		for _, y := range x {
			e.generic(y)
		}
	case []MapEntry:
		_ = m.EncodeMapLen(len(x))
		for _, y := range x {
			e.generic(y.Key)
			e.generic(y.Value)
		}
	default:
		panic(fmt.Sprintf("kvevents: unchecked extra-key type %T", v)) // Validate refuses it
	}
}
