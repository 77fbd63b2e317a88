package pagedpub

import (
	"encoding/binary"
	"fmt"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
)

// The kv_cache_spec_kind values vLLM sends for the KV-cache group kinds a Manager has
// (paged.KVGroup.Kind); a BlockStored of a sliding-window group also carries
// kv_cache_spec_sliding_window, the window in tokens (vLLM sends no chunk size).
const (
	SpecKindFullAttention = "full_attention"
	SpecKindSlidingWindow = "sliding_window"
	SpecKindChunkedLocal  = "chunked_local_attention"
)

// ConvertOptions says how a paged.Manager's events become vLLM's wire events. The
// zero value is vLLM's default form.
type ConvertOptions struct {
	// RawHashes sends block hashes as the raw digests (msgpack bin), as vLLM does
	// with VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0. Default false: the 64-bit
	// integers (the digest's last 8 bytes, big-endian). With a prefix.VLLM hasher
	// the digests are vLLM's own (32 bytes for SHA-256, 16 for XXH3-128); with
	// pagedkv's own hashers, whose digest is the 64-bit hash, 8 bytes. A
	// BlockRemoved, or a re-announced block no sequence holds, carries the digest
	// its BlockStored carried when this Converter saw it, else the 8-byte form
	// (kvevents.BlockHash.Key is the same for both forms).
	RawHashes bool
	// LoRAIDs maps adapter names to vLLM's integer LoRA ids, sent as lora_id
	// beside lora_name. vLLM numbers adapters itself (lora_int_id) and consumers
	// key on lora_name since vLLM #27211, so an adapter missing here is sent with
	// lora_id None (nil); a sequence without an adapter has both None, as in vLLM.
	LoRAIDs map[string]int64
	// Groups are the Manager's KV-cache groups (paged.Manager.Groups), indexed by
	// an event's group_idx, for kv_cache_spec_kind and kv_cache_spec_sliding_window.
	// Nil means one full-attention group; New fills it from the Manager.
	Groups []paged.KVGroup
}

// Converter turns a paged.Manager's events into kvevents events exactly as a vLLM
// engine emits them (BlockStored with every field vLLM at the pinned commit sets:
// block_hashes, parent_block_hash, token_ids, block_size, lora_id, medium,
// lora_name, extra_keys, group_idx, kv_cache_spec_kind and, for a sliding-window
// group, kv_cache_spec_sliding_window; BlockRemoved with medium and group_idx;
// AllBlocksCleared). It is not safe for
// concurrent use. In steady state it allocates nothing for sequences without extra
// keys; each extra key costs a small bounded allocation (its boxing into any).
type Converter struct {
	opt ConvertOptions
	// arenas the converted events point into, reset by each Append
	hashes []kvevents.BlockHash
	anys   []any
	bytes  []byte
	// digests remembers, in RawHashes mode, the digest of every hash announced
	// and not yet removed (per hash: the digest and how many blocks carry it),
	// so a BlockRemoved carries the same bytes as its BlockStored. Invariant: its
	// counts are the announced multiset since the last AllBlocksCleared.
	digests, old map[uint64]digestEntry
}

type digestEntry struct {
	n int32
	k uint8 // digest length
	d [32]byte
}

// NewConverter returns a Converter with the given options.
func NewConverter(opt ConvertOptions) *Converter {
	c := &Converter{opt: opt}
	if opt.RawHashes {
		c.digests = make(map[uint64]digestEntry)
	}
	return c
}

// Append converts evs, in order, appending one kvevents.Event per paged.Event to
// dst. An event no Manager emits (a store or removal without hashes, digests that do
// not divide evenly among the hashes) is skipped. The appended events point into evs (token ids, digests) and into the
// Converter's buffers: they stay valid until the next Append and until evs' own
// slices are reused (the Manager's next TakeEvents or ResyncEvents).
func (c *Converter) Append(dst []kvevents.Event, evs []paged.Event) []kvevents.Event {
	c.hashes, c.bytes = c.hashes[:0], c.bytes[:0]
	clear(c.anys) // drop references to the previous events' strings
	c.anys = c.anys[:0]
	for i := range evs {
		e := &evs[i]
		switch e.Kind {
		case paged.BlockStored:
			if len(e.Hashes) == 0 || len(e.Digests)%len(e.Hashes) != 0 {
				continue // not an event a Manager emits: nothing to announce
			}
			dst = append(dst, c.stored(e))
		case paged.BlockRemoved:
			if len(e.Hashes) == 0 {
				continue
			}
			h := c.hash(e.Hashes[0], nil, true)
			dst = append(dst, kvevents.Event{Type: kvevents.BlockRemoved, BlockHashes: c.carve(h),
				Medium: kvevents.Some(string(e.Medium)), GroupIdx: kvevents.Some(int64(e.Group))})
		case paged.AllBlocksCleared:
			if c.digests != nil {
				c.old, c.digests = c.digests, make(map[uint64]digestEntry, len(c.digests))
			}
			dst = append(dst, kvevents.Event{Type: kvevents.AllBlocksCleared})
		}
	}
	c.old = nil // digests of blocks a resync did not re-announce are gone
	return dst
}

func (c *Converter) carve(hs ...kvevents.BlockHash) []kvevents.BlockHash {
	n := len(c.hashes)
	c.hashes = append(c.hashes, hs...)
	return c.hashes[n:len(c.hashes):len(c.hashes)]
}

func (c *Converter) stored(e *paged.Event) kvevents.Event {
	k := 0
	if e.Digests != nil {
		k = len(e.Digests) / len(e.Hashes)
	}
	h0 := len(c.hashes)
	for i, h := range e.Hashes {
		var d []byte
		if k > 0 {
			d = e.Digests[i*k : (i+1)*k]
		}
		c.hashes = append(c.hashes, c.hash(h, d, false))
	}
	out := kvevents.Event{
		Type:        kvevents.BlockStored,
		BlockHashes: c.hashes[h0:len(c.hashes):len(c.hashes)],
		TokenIDs:    e.Tokens,
		BlockSize:   e.BlockSize,
		Medium:      kvevents.Some(string(e.Medium)),
		GroupIdx:    kvevents.Some(int64(e.Group)),
	}
	if e.HasParent {
		out.ParentBlockHash = kvevents.Some(c.parent(e.ParentHash, e.ParentDigest))
	}
	if e.Detached {
		return out // keys unknown: lora_name, lora_id, extra_keys and spec left None
	}
	c.spec(&out, e.Group)
	if e.Adapter != "" {
		out.LoraName = kvevents.Some(e.Adapter)
		if id, ok := c.opt.LoRAIDs[e.Adapter]; ok {
			out.LoraID = kvevents.Some(id)
		}
	}
	keys := c.grow(len(e.Hashes))
	if e.ExtraKeys != nil {
		for i, ks := range e.ExtraKeys {
			if len(ks) > 0 {
				keys[i] = c.tuple(ks)
			}
		}
	}
	out.ExtraKeys = kvevents.Some(keys)
	return out
}

// grow carves n nil entries from the any arena.
func (c *Converter) grow(n int) []any {
	a := len(c.anys)
	for range n {
		c.anys = append(c.anys, nil)
	}
	return c.anys[a:len(c.anys):len(c.anys)]
}

// tuple converts one block's extra keys to vLLM's tuple: strings for the LoRA
// name and the salt, (identifier, offset) pairs for multimodal items, bytes for a
// prompt-embedding digest.
func (c *Converter) tuple(ks []prefix.ExtraKey) []any {
	t := c.grow(len(ks))
	for i := range ks {
		switch k := &ks[i]; k.Kind {
		case prefix.KeyLoRA, prefix.KeySalt:
			t[i] = k.Text
		case prefix.KeyMM:
			p := c.grow(2)
			p[0], p[1] = k.Text, int64(k.Offset)
			t[i] = p
		case prefix.KeyEmbeds:
			n := len(c.bytes)
			c.bytes = append(c.bytes, k.Digest[:]...)
			t[i] = c.bytes[n:len(c.bytes):len(c.bytes)]
		}
	}
	return t
}

// checkInvariants verifies the invariant stated on digests: every remembered hash
// is carried by at least one announced block and has a digest of a known size
// (8 bytes for pagedkv's hashers, 16 or 32 for vLLM's), and only raw-hash mode
// remembers anything.
func (c *Converter) checkInvariants() error {
	if !c.opt.RawHashes && (c.digests != nil || c.old != nil) {
		return fmt.Errorf("digests remembered in integer mode")
	}
	for h, e := range c.digests {
		if e.n <= 0 || e.k != 8 && e.k != 16 && e.k != 32 {
			return fmt.Errorf("hash %x: count %d, digest of %d bytes", h, e.n, e.k)
		}
		if binary.BigEndian.Uint64(e.d[e.k-8:e.k]) != h {
			return fmt.Errorf("hash %x: digest %x does not end in it", h, e.d[:e.k])
		}
	}
	if c.old != nil {
		return fmt.Errorf("the previous digests outlived an Append")
	}
	return nil
}

// hash converts one block hash. Integer form: the 64-bit hash. Raw form: digest
// d when given (and remembered), else the remembered digest, else the 8 bytes of
// h; removed forgets one block carrying h.
func (c *Converter) hash(h prefix.Hash, d []byte, removed bool) kvevents.BlockHash {
	if !c.opt.RawHashes {
		return kvevents.HashUint64(uint64(h))
	}
	key := uint64(h)
	ent, ok := c.digests[key]
	if !ok {
		ent, ok = c.old[key]
		ent.n = 0
	}
	switch {
	case d != nil && len(d) <= len(ent.d):
		ent.k = uint8(copy(ent.d[:], d))
	case !ok || ent.k == 0:
		ent.k = uint8(copy(ent.d[:], binary.BigEndian.AppendUint64(ent.d[:0], key)))
	}
	n := len(c.bytes)
	c.bytes = append(c.bytes, ent.d[:ent.k]...)
	if removed {
		if ent.n--; ent.n <= 0 {
			delete(c.digests, key)
		} else {
			c.digests[key] = ent
		}
	} else {
		ent.n++
		c.digests[key] = ent
	}
	return kvevents.HashBytes(c.bytes[n:len(c.bytes):len(c.bytes)])
}

// parent converts a parent hash: its digest when given or remembered, without
// counting it.
func (c *Converter) parent(h prefix.Hash, d []byte) kvevents.BlockHash {
	if !c.opt.RawHashes {
		return kvevents.HashUint64(uint64(h))
	}
	n := len(c.bytes)
	if d == nil {
		if ent, ok := c.digests[uint64(h)]; ok && ent.k > 0 {
			d = ent.d[:ent.k]
		}
	}
	if d != nil {
		c.bytes = append(c.bytes, d...)
	} else {
		c.bytes = binary.BigEndian.AppendUint64(c.bytes, uint64(h))
	}
	return kvevents.HashBytes(c.bytes[n:len(c.bytes):len(c.bytes)])
}

// spec sets the event's kv_cache_spec fields from its group's kind.
func (c *Converter) spec(out *kvevents.Event, group int) {
	g := paged.KVGroup{Kind: paged.FullAttention}
	if group >= 0 && group < len(c.opt.Groups) {
		g = c.opt.Groups[group]
	}
	switch g.Kind {
	case paged.SlidingWindow:
		out.KVCacheSpecKind = kvevents.Some(SpecKindSlidingWindow)
		out.KVCacheSpecSlidingWindow = kvevents.Some(int64(g.Window))
	case paged.ChunkedLocal:
		out.KVCacheSpecKind = kvevents.Some(SpecKindChunkedLocal)
	default:
		out.KVCacheSpecKind = kvevents.Some(SpecKindFullAttention)
	}
}
