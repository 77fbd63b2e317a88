package paged

import (
	"encoding/binary"
	"fmt"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// EventKind says what an Event reports; the kinds are vLLM's KV events.
type EventKind uint8

const (
	// BlockStored: blocks were registered in the prefix cache (vLLM's BlockStored).
	BlockStored EventKind = iota + 1
	// BlockRemoved: a cached block was evicted (vLLM's BlockRemoved).
	BlockRemoved
	// AllBlocksCleared: ResetPrefixCache emptied the cache (vLLM's AllBlocksCleared).
	AllBlocksCleared
)

// String returns vLLM's name of the event kind.
func (k EventKind) String() string {
	switch k {
	case BlockStored:
		return "BlockStored"
	case BlockRemoved:
		return "BlockRemoved"
	case AllBlocksCleared:
		return "AllBlocksCleared"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Medium names the tier whose cache an event is about (vLLM's medium field).
type Medium string

const (
	// MediumGPU is the device tier.
	MediumGPU Medium = "GPU"
	// MediumCPU is the host tier, when it caches blocks (Config.HostCache).
	MediumCPU Medium = "CPU"
)

// Event is one prefix-cache event, shaped like vLLM's KV events so a publisher can
// encode it for an external router or KV indexer. Fields that do not apply to a kind
// are zero.
type Event struct {
	Kind EventKind
	// Hashes: for BlockStored the stored blocks' hashes in chain order; for
	// BlockRemoved the one evicted block's hash.
	Hashes []prefix.Hash
	// ParentHash is the hash of the block before Hashes[0] in its sequence; valid only
	// if HasParent (BlockStored of a run that does not start at block 0).
	ParentHash prefix.Hash
	HasParent  bool
	// Tokens are the token ids of all stored blocks (len(Hashes) × BlockSize).
	Tokens []int32
	// BlockSize is the manager's block size (BlockStored).
	BlockSize int
	// Adapter is the LoRA adapter name, "" for none (vLLM's lora_name).
	Adapter string
	// Medium is the tier whose cache changed: MediumGPU, or MediumCPU for the host
	// prefix cache (Config.HostCache). A CPU BlockStored describes one offloaded
	// block; its parent may be cached in either tier or in none any more.
	Medium Medium
	// Group is the KV-cache group of the blocks (Config.Groups; vLLM's group_idx):
	// 0 without groups. A BlockStored of a windowed group may name a parent that
	// group already released or that was evicted (as vLLM's does): its chain, not
	// its cache, is the parent.
	Group int
	// FirstBlock is the index of Hashes[0] within its sequence (BlockStored). With
	// BlockSize, CacheSalt and MM it determines vLLM's per-block extra keys: the salt
	// belongs to block 0, an item to every block it overlaps.
	FirstBlock int
	// CacheSalt and MM are the sequence's salt and multimodal items (BlockStored).
	CacheSalt string
	MM        []prefix.MMItem
	// Digests (BlockStored) are the stored blocks' full digests, DigestSize bytes
	// each in Hashes' order, when the Manager's Hasher is a prefix.VLLM: the raw
	// block hashes vLLM sends with VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0. Nil for
	// pagedkv's own hashers (whose full digest is the Hash, big-endian) and for
	// blocks re-announced by ResyncEvents that no live sequence holds.
	Digests []byte
	// ParentDigest is the parent's full digest, set with Digests and HasParent.
	ParentDigest []byte
	// ExtraKeys (BlockStored) holds, per stored block in Hashes' order, the extra
	// keys hashed into it (prefix.Chain.AppendExtraKeys: vLLM's per-block
	// extra_keys, nil for a block without any); nil when no stored block has any.
	ExtraKeys [][]prefix.ExtraKey
	// Detached marks a BlockStored that ResyncEvents made for a cached block no
	// live sequence holds, or a host-tier copy (MediumCPU) of a block with extra keys
	// or hashed by a vLLM hasher: its adapter, salt, multimodal items, extra keys and
	// digests are unknown (left empty, not "none"), and FirstBlock is 0.
	Detached bool
}

// TakeEvents appends the queued events, oldest first, to dst, empties the queue, and
// returns dst together with the number of events that were dropped since the
// previous TakeEvents because the queue was full (Config.Events). When the queue
// fills, every later event is dropped until the next TakeEvents, so the returned
// events are always a complete prefix of the history and dropped > 0 means the
// consumer's view is incomplete from there on: a publisher should then tell its
// subscribers to forget this engine (vLLM's AllBlocksCleared) and start over.
//
// The slices inside the returned events (Hashes, Tokens) stay valid until the next
// TakeEvents call; copy them to keep them longer. MM is read-only and lives as long
// as the event. With events disabled it returns dst and 0. In steady state it
// allocates nothing.
func (m *Manager) TakeEvents(dst []Event) ([]Event, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.events.take(dst)
}

// eventQueue is the bounded event queue. Events and the hashes and tokens they carry
// live in cur; TakeEvents hands cur's contents out and swaps in spare, whose arrays
// were handed out by the previous TakeEvents. Invariants: len(cur.events) ≤
// maxEvents, len(cur.tokens) ≤ maxTokens; dropped > 0 ⇒ nothing was queued since
// the first drop.
type eventQueue struct {
	on, distinct bool
	digestSize   int // bytes of a full digest recorded in Event.Digests; 0: none
	bs           int
	maxEvents    int
	maxTokens    int
	cur, spare   eventBuf
	dropped      uint64 // since the last take
	totalDropped uint64
}

type eventBuf struct {
	events   []Event
	hashes   []prefix.Hash
	tokens   []int32
	digests  []byte
	keys     []prefix.ExtraKey
	keyLists [][]prefix.ExtraKey
}

func (b *eventBuf) reset() {
	b.events, b.hashes, b.tokens, b.digests = b.events[:0], b.hashes[:0], b.tokens[:0], b.digests[:0]
	clear(b.keys) // drop references to sequences' strings
	clear(b.keyLists)
	b.keys, b.keyLists = b.keys[:0], b.keyLists[:0]
}

// init sets the queue up; BlockStored events carry full digests of digestSize
// bytes (vLLM hashers), none when it is 0.
func (q *eventQueue) init(o EventOptions, bs, digestSize int) {
	*q = eventQueue{on: o.Enabled, distinct: o.PerDistinctHash, bs: bs, maxEvents: o.QueueSize, maxTokens: o.QueueTokens, digestSize: digestSize}
}

// room reports whether an event carrying tokens token ids may be queued, counting
// it as dropped otherwise.
func (q *eventQueue) room(tokens int) bool {
	if q.dropped > 0 || len(q.cur.events) >= q.maxEvents || tokens > q.maxTokens-len(q.cur.tokens) {
		q.dropped++
		q.totalDropped++
		return false
	}
	return true
}

// stored queues BlockStored for blocks [from, to) of s (group 0).
func (q *eventQueue) stored(s *sequence, from, to int) { q.storedGroup(s, 0, from, to) }

// storedGroup queues BlockStored for blocks [from, to) of s in group g.
func (q *eventQueue) storedGroup(s *sequence, g, from, to int) {
	if !q.on || !q.room((to-from)*q.bs) {
		return
	}
	q.cur.events = append(q.cur.events, q.cur.storedEvent(s, g, from, to, q.bs, q.digestSize > 0))
}

// storedEvent builds BlockStored for blocks [from, to) of s in group g in b's
// buffers.
func (b *eventBuf) storedEvent(s *sequence, g, from, to, bs int, digests bool) Event {
	h0, t0, d0 := len(b.hashes), len(b.tokens), len(b.digests)
	for j := from; j < to; j++ {
		b.hashes = append(b.hashes, s.chain.Hash(j))
	}
	b.tokens = append(b.tokens, s.tokens[from*bs:to*bs]...)
	e := Event{
		Kind: BlockStored, Hashes: b.hashes[h0:len(b.hashes):len(b.hashes)], Tokens: b.tokens[t0:len(b.tokens):len(b.tokens)],
		BlockSize: bs, Adapter: s.extras.Adapter, Medium: MediumGPU, FirstBlock: from,
		CacheSalt: s.extras.CacheSalt, MM: s.extras.MM, Group: g,
	}
	if from > 0 {
		e.ParentHash, e.HasParent = s.chain.Hash(from-1), true
	}
	if digests {
		if from > 0 {
			b.digests = s.chain.AppendDigest(b.digests, from-1)
		}
		p0 := len(b.digests)
		for j := from; j < to; j++ {
			b.digests = s.chain.AppendDigest(b.digests, j)
		}
		e.ParentDigest = b.digests[d0:p0:p0]
		e.Digests = b.digests[p0:len(b.digests):len(b.digests)]
		if from == 0 {
			e.ParentDigest = nil
		}
	}
	if ex := &s.extras; ex.Adapter != "" || ex.CacheSalt != "" || len(ex.MM) > 0 || len(ex.PromptEmbeds) > 0 {
		l0 := len(b.keyLists)
		for j := from; j < to; j++ {
			k0 := len(b.keys)
			b.keys = s.chain.AppendExtraKeys(b.keys, j)
			var list []prefix.ExtraKey
			if len(b.keys) > k0 {
				list = b.keys[k0:len(b.keys):len(b.keys)]
			}
			b.keyLists = append(b.keyLists, list)
		}
		e.ExtraKeys = b.keyLists[l0:len(b.keyLists):len(b.keyLists)]
	}
	return e
}

// storedBlock queues BlockStored for one block cached in the tier medium from its
// key and origin (the computing sequence may be gone); in the per-distinct-hash form
// only if its hash is new to that tier.
func (q *eventQueue) storedBlock(medium Medium, k *blockpool.Key, o *origin, first bool) {
	if !q.on || (q.distinct && !first) || !q.room(q.bs) {
		return
	}
	b := &q.cur
	b.hashes = append(b.hashes, prefix.Hash(k.Hash))
	b.tokens = append(b.tokens, k.Tokens...)
	nh, nt := len(b.hashes), len(b.tokens)
	e := Event{Kind: BlockStored, Hashes: b.hashes[nh-1 : nh : nh], Tokens: b.tokens[nt-q.bs : nt : nt],
		BlockSize: q.bs, Medium: medium, FirstBlock: int(o.pos)}
	if o.pos > 0 {
		e.ParentHash, e.HasParent = o.parentHash, true
	}
	if o.ex != nil || q.digestSize > 0 { // its extra keys or full digest were not kept
		e.Detached, e.FirstBlock = true, 0
	}
	b.events = append(b.events, e)
}

// removed queues BlockRemoved for a hash evicted from group group of the tier
// medium; in the per-distinct-hash form only when no other block of that tier and
// group carries it.
func (q *eventQueue) removed(h prefix.Hash, last bool, medium Medium, group int) {
	if !q.on || (q.distinct && !last) || !q.room(0) {
		return
	}
	b := &q.cur
	b.hashes = append(b.hashes, h)
	n := len(b.hashes)
	b.events = append(b.events, Event{Kind: BlockRemoved, Hashes: b.hashes[n-1 : n : n], Medium: medium, Group: group})
}

// cleared queues AllBlocksCleared for a tier.
func (q *eventQueue) cleared(medium Medium) {
	if !q.on || !q.room(0) {
		return
	}
	q.cur.events = append(q.cur.events, Event{Kind: AllBlocksCleared, Medium: medium})
}

func (q *eventQueue) take(dst []Event) ([]Event, uint64) {
	dst = append(dst, q.cur.events...)
	lost := q.dropped
	q.cur, q.spare = q.spare, q.cur
	q.cur.reset()
	q.dropped = 0
	return dst, lost
}

// digestsMatch reports whether a queued BlockStored carries a full digest per hash
// and for its parent, each ending in the 64-bit hash, exactly when digests are
// recorded.
func (q *eventQueue) digestsMatch(e *Event) bool {
	k := q.digestSize
	if k == 0 {
		return e.Digests == nil && e.ParentDigest == nil
	}
	if len(e.Digests) != len(e.Hashes)*k || e.HasParent != (len(e.ParentDigest) == k) || !e.HasParent && e.ParentDigest != nil {
		return false
	}
	for i, h := range e.Hashes {
		if prefix.Hash(binary.BigEndian.Uint64(e.Digests[(i+1)*k-8:])) != h {
			return false
		}
	}
	return !e.HasParent || prefix.Hash(binary.BigEndian.Uint64(e.ParentDigest[k-8:])) == e.ParentHash
}

// check verifies the queue's invariants (see eventQueue).
func (q *eventQueue) check() error {
	b := &q.cur
	if !q.on && (len(b.events) > 0 || q.totalDropped > 0) {
		return fmt.Errorf("events queued while disabled")
	}
	if len(b.events) > q.maxEvents || len(b.tokens) > q.maxTokens {
		return fmt.Errorf("event queue holds %d events and %d tokens, limits %d and %d", len(b.events), len(b.tokens), q.maxEvents, q.maxTokens)
	}
	if q.dropped > q.totalDropped {
		return fmt.Errorf("event queue dropped %d since the last take but %d in all", q.dropped, q.totalDropped)
	}
	tokens := 0
	for i, e := range b.events {
		switch {
		case e.Kind == BlockStored && (len(e.Hashes) == 0 || len(e.Tokens) != len(e.Hashes)*q.bs || !e.Detached && e.HasParent != (e.FirstBlock > 0) || e.Detached && e.FirstBlock != 0):
			return fmt.Errorf("event %d: %d hashes, %d tokens, first block %d, parent %v", i, len(e.Hashes), len(e.Tokens), e.FirstBlock, e.HasParent)
		case e.Kind == BlockStored && !q.digestsMatch(&e):
			return fmt.Errorf("event %d: %d hashes, %d digest bytes, parent %v with a %d-byte digest", i, len(e.Hashes), len(e.Digests), e.HasParent, len(e.ParentDigest))
		case e.Kind == BlockStored && e.ExtraKeys != nil && len(e.ExtraKeys) != len(e.Hashes):
			return fmt.Errorf("event %d: %d extra-key lists for %d hashes", i, len(e.ExtraKeys), len(e.Hashes))
		case e.Kind == BlockRemoved && len(e.Hashes) != 1:
			return fmt.Errorf("event %d removes %d hashes", i, len(e.Hashes))
		case e.Kind == AllBlocksCleared && (len(e.Hashes) != 0 || len(e.Tokens) != 0):
			return fmt.Errorf("event %d clears with payload", i)
		case e.Kind < BlockStored || e.Kind > AllBlocksCleared:
			return fmt.Errorf("event %d has kind %v", i, e.Kind)
		}
		tokens += len(e.Tokens)
	}
	if tokens != len(b.tokens) {
		return fmt.Errorf("events carry %d tokens, the queue holds %d", tokens, len(b.tokens))
	}
	return nil
}
