package kvevents

import (
	"fmt"
	"slices"
)

// Encoder writes batches exactly as vLLM's msgspec encoder does (the rules are in
// the package documentation). It appends msgpack by hand (writer.go): the same
// bytes vmihailenco/msgpack's low-level encoder writes — the tests encode every
// batch with both — at about three times its speed, which matters on an engine's
// step path. The zero value is ready to use; an Encoder holds no state and is safe
// for concurrent use.
type Encoder struct{}

// Map keys and tags with their msgpack headers, written in one copy.
var (
	kType                     = appendStr(nil, "type")
	kBlockHashes              = appendStr(nil, "block_hashes")
	kParentBlockHash          = appendStr(nil, "parent_block_hash")
	kTokenIds                 = appendStr(nil, "token_ids")
	kBlockSize                = appendStr(nil, "block_size")
	kLoraId                   = appendStr(nil, "lora_id")
	kMedium                   = appendStr(nil, "medium")
	kLoraName                 = appendStr(nil, "lora_name")
	kExtraKeys                = appendStr(nil, "extra_keys")
	kGroupIdx                 = appendStr(nil, "group_idx")
	kKvCacheSpecKind          = appendStr(nil, "kv_cache_spec_kind")
	kKvCacheSpecSlidingWindow = appendStr(nil, "kv_cache_spec_sliding_window")
	kLocality                 = appendStr(nil, "locality")
	kTypeStored               = appendStr(appendStr(nil, "type"), tagBlockStored)
	kTypeRemoved              = appendStr(appendStr(nil, "type"), tagBlockRemoved)
	kTypeCleared              = appendStr(appendStr(nil, "type"), tagAllBlocksCleared)
)

// EncodeBatch returns the msgpack payload of b in a new slice.
func EncodeBatch(b *Batch) ([]byte, error) {
	var e Encoder
	return e.Append(nil, b)
}

// Append appends the msgpack payload of b to dst. If b is invalid (see
// Batch.Validate) it returns dst unchanged and an error wrapping ErrInvalidEvent.
func (Encoder) Append(dst []byte, b *Batch) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return dst, err
	}
	// EventBatch is array_like: always 3 elements.
	dst = append(dst, 0x93)
	dst = appendFloat64(dst, b.TS)
	dst = appendArrayLen(dst, len(b.Events))
	for i := range b.Events {
		if b.Layout == LayoutArray {
			dst = appendArrayEvent(dst, &b.Events[i])
		} else {
			dst = appendMapEvent(dst, &b.Events[i])
		}
	}
	return appendOptInt(dst, b.DataParallelRank), nil
}

// appendMapEvent writes an event as a map: the tag first, then fields in
// declaration order; required fields always (nil for None), defaulted ones only
// when not None. msgspec sizes the map header from the declared field count (13
// for BlockStored with its tag, 5 for BlockRemoved, 1 for AllBlocksCleared): all
// below 16, so the header is a fixmap of the entries actually written.
func appendMapEvent(b []byte, ev *Event) []byte {
	switch ev.Type {
	case BlockStored:
		n := 8 + count(ev.ExtraKeys.Valid, ev.GroupIdx.Valid, ev.KVCacheSpecKind.Valid,
			ev.KVCacheSpecSlidingWindow.Valid, ev.Locality.Valid)
		b = appendMapLen(b, n)
		b = append(b, kTypeStored...)
		b = appendHashes(append(b, kBlockHashes...), ev.BlockHashes)
		b = appendOptHash(append(b, kParentBlockHash...), ev.ParentBlockHash)
		b = appendTokens(append(b, kTokenIds...), ev.TokenIDs)
		b = appendInt(append(b, kBlockSize...), int64(ev.BlockSize))
		b = appendOptInt(append(b, kLoraId...), ev.LoraID)
		b = appendOptStr(append(b, kMedium...), ev.Medium)
		b = appendOptStr(append(b, kLoraName...), ev.LoraName)
		if ev.ExtraKeys.Valid {
			b = appendExtraKeys(append(b, kExtraKeys...), ev.ExtraKeys.Val)
		}
		if ev.GroupIdx.Valid {
			b = appendInt(append(b, kGroupIdx...), ev.GroupIdx.Val)
		}
		if ev.KVCacheSpecKind.Valid {
			b = appendStr(append(b, kKvCacheSpecKind...), ev.KVCacheSpecKind.Val)
		}
		if ev.KVCacheSpecSlidingWindow.Valid {
			b = appendInt(append(b, kKvCacheSpecSlidingWindow...), ev.KVCacheSpecSlidingWindow.Val)
		}
		if ev.Locality.Valid {
			b = appendStr(append(b, kLocality...), ev.Locality.Val)
		}
		return b
	case BlockRemoved:
		b = appendMapLen(b, 3+count(ev.GroupIdx.Valid, ev.Locality.Valid))
		b = append(b, kTypeRemoved...)
		b = appendHashes(append(b, kBlockHashes...), ev.BlockHashes)
		b = appendOptStr(append(b, kMedium...), ev.Medium)
		if ev.GroupIdx.Valid {
			b = appendInt(append(b, kGroupIdx...), ev.GroupIdx.Val)
		}
		if ev.Locality.Valid {
			b = appendStr(append(b, kLocality...), ev.Locality.Val)
		}
		return b
	case AllBlocksCleared:
		return appendStr(appendStr(appendMapLen(b, 1), "type"), tagAllBlocksCleared)
	}
	return append(b, ev.Raw...)
}

// appendArrayEvent writes an event in the legacy layout: [tag, every field].
func appendArrayEvent(b []byte, ev *Event) []byte {
	switch ev.Type {
	case BlockStored:
		b = appendStr(appendArrayLen(b, 1+len(legacyStored)), tagBlockStored)
		b = appendHashes(b, ev.BlockHashes)
		b = appendOptHash(b, ev.ParentBlockHash)
		b = appendTokens(b, ev.TokenIDs)
		b = appendInt(b, int64(ev.BlockSize))
		b = appendOptInt(b, ev.LoraID)
		b = appendOptStr(b, ev.Medium)
		b = appendOptStr(b, ev.LoraName)
		if ev.ExtraKeys.Valid {
			b = appendExtraKeys(b, ev.ExtraKeys.Val)
		} else {
			b = appendNil(b)
		}
		b = appendOptInt(b, ev.GroupIdx)
		b = appendOptStr(b, ev.KVCacheSpecKind)
		return appendOptInt(b, ev.KVCacheSpecSlidingWindow)
	case BlockRemoved:
		b = appendStr(appendArrayLen(b, 1+len(legacyRemoved)), tagBlockRemoved)
		b = appendHashes(b, ev.BlockHashes)
		b = appendOptStr(b, ev.Medium)
		return appendOptInt(b, ev.GroupIdx)
	case AllBlocksCleared:
		return appendStr(appendArrayLen(b, 1), tagAllBlocksCleared)
	}
	return append(b, ev.Raw...)
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func appendHash(b []byte, h BlockHash) []byte {
	switch {
	case h.Bytes != nil:
		return appendBin(b, h.Bytes)
	case h.Negative:
		return appendInt(b, int64(h.Value))
	}
	return appendUint(b, h.Value)
}

func appendHashes(b []byte, hs []BlockHash) []byte {
	b = appendArrayLen(b, len(hs))
	for _, h := range hs {
		b = appendHash(b, h)
	}
	return b
}

func appendOptHash(b []byte, o Opt[BlockHash]) []byte {
	if !o.Valid {
		return appendNil(b)
	}
	return appendHash(b, o.Val)
}

func appendTokens(b []byte, ts []int32) []byte {
	b = appendArrayLen(b, len(ts))
	b = slices.Grow(b, 5*len(ts)) // the longest form of an int32
	for _, t := range ts {
		switch v := uint32(t); {
		case t < 0:
			b = appendInt(b, int64(t))
		case v <= 0x7f:
			b = append(b, byte(v))
		case v <= 0xff:
			b = append(b, 0xcc, byte(v))
		case v <= 0xffff:
			b = append(b, 0xcd, byte(v>>8), byte(v))
		default:
			b = append(b, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		}
	}
	return b
}

func appendOptInt(b []byte, o Opt[int64]) []byte {
	if !o.Valid {
		return appendNil(b)
	}
	return appendInt(b, o.Val)
}

func appendOptStr(b []byte, o Opt[string]) []byte {
	if !o.Valid {
		return appendNil(b)
	}
	return appendStr(b, o.Val)
}

func appendExtraKeys(b []byte, keys []any) []byte {
	b = appendArrayLen(b, len(keys))
	for _, k := range keys {
		b = appendGeneric(b, k)
	}
	return b
}

// appendGeneric writes a value checked by checkGeneric.
func appendGeneric(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return appendNil(b)
	case bool:
		return appendBool(b, x)
	case int:
		return appendInt(b, int64(x))
	case int8:
		return appendInt(b, int64(x))
	case int16:
		return appendInt(b, int64(x))
	case int32:
		return appendInt(b, int64(x))
	case int64:
		return appendInt(b, x)
	case uint:
		return appendUint(b, uint64(x))
	case uint8:
		return appendUint(b, uint64(x))
	case uint16:
		return appendUint(b, uint64(x))
	case uint32:
		return appendUint(b, uint64(x))
	case uint64:
		return appendUint(b, x)
	case float32:
		return appendFloat64(b, float64(x)) // Python has only float64
	case float64:
		return appendFloat64(b, x)
	case string:
		return appendStr(b, x)
	case []byte:
		return appendBin(b, x) // a nil []byte is empty bytes, not None
	case []any:
		b = appendArrayLen(b, len(x))
		for _, y := range x {
			b = appendGeneric(b, y)
		}
		return b
	case []MapEntry:
		b = appendMapLen(b, len(x))
		for _, y := range x {
			b = appendGeneric(appendGeneric(b, y.Key), y.Value)
		}
		return b
	}
	panic(fmt.Sprintf("kvevents: unchecked extra-key type %T", v)) // Validate refuses it
}
