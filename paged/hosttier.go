package paged

import (
	"unsafe"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// The host prefix-cache tier (Config.HostCache).
//
// Offload: when an allocation pops a cached device block (an eviction) whose KV is
// written, whose priority is at least MinPriority and that has no host copy yet, the
// pool's eviction hook allocates a host block, caches it under the device block's key
// and identity, and appends a DeviceToHost copy to the copy list of the call in
// progress — before the copies that write the device block again (the allocation
// that evicted it comes first). Write-through queues a block when it is registered
// (or hit MinHits times) and copies it at the start of the next call that returns a
// copy list.
//
// Onload: a lookup that misses on the device tries the host tier with the same key,
// block by block; an admission claims a host hit by allocating a device block,
// caching it under the host block's key and identity (so the rest of the chain stays
// reachable) and appending a HostToDevice copy. The host block keeps its copy.
//
// Because a copy is registered before the engine performs it, every list must be
// performed before the engine reads KV through any block table of the step (the
// same rule as for swap-in), and the lists of successive calls in call order.

// origin is what a cached block needs to be described in a KV event once the
// sequence that computed it is gone, plus write-through state (device blocks only).
type origin struct {
	ex         *prefix.Extras // the computing sequence's extra keys (nil: none)
	parentHash prefix.Hash    // chain hash of the previous block (pos > 0)
	pos        int32          // block index within its sequence
	ready      bool           // its KV is written (false: registered ahead, RegisterAtReserve)
	queued     bool           // waiting in hostTier.wt
	hits       uint32         // prompts that claimed it (for MinHits)
}

// originBytes is the size of an origin, counted per block of both tiers.
const originBytes = int64(unsafe.Sizeof(origin{}))

// hostTier is the host prefix-cache state. Invariant: on ⇔ Config.HostCache.Policy
// != HostCacheOff; dev and host have one origin per block of each pool; wt lists
// each queued device block once (origin.queued), with the identity it was queued
// under.
type hostTier struct {
	on, writeThrough bool
	minHits          uint32
	minLevel         int
	blocks           int // HostBlocks when on, else 0
	dev, host        []origin
	wt               []queuedBlock
}

type queuedBlock struct {
	id    blockpool.BlockID
	ident uint64
}

func (t *hostTier) init(c *Config) {
	*t = hostTier{on: c.HostCache.Policy != HostCacheOff, writeThrough: c.HostCache.Policy == WriteThrough,
		minHits: uint32(c.HostCache.MinHits), minLevel: c.HostCache.MinPriority - MinPriority}
	if t.on {
		t.blocks = c.HostBlocks
		t.dev = make([]origin, c.NumBlocks)
		t.host = make([]origin, c.HostBlocks)
	}
}

// reset forgets the write-through queue (the caches were emptied).
func (t *hostTier) reset() {
	for _, q := range t.wt {
		t.dev[q.id].queued = false
	}
	t.wt = t.wt[:0]
}

// begin starts a call that returns a copy list: copies the engine must perform are
// appended to m.out from now on. A claim's sources (l, nil for other calls) are held
// first, so that no host allocation of this call can reuse them; then the queued
// write-through copies come first in the list.
func (m *Manager) begin(copies []BlockCopy, l *lookup) {
	m.out, m.inCall = copies, true
	if l != nil {
		m.holdSources(l)
	}
	if len(m.tier.wt) > 0 {
		m.flushWriteThrough()
	}
}

// end finishes the call and returns its copy list.
func (m *Manager) end() []BlockCopy {
	out := m.out
	m.out, m.inCall = nil, false
	return out
}

// registered records a device block's origin when it is cached, with or without its
// KV written yet, and queues it for write-through if it qualifies.
func (m *Manager) registered(s *sequence, j int, id blockpool.BlockID, ready bool) {
	if !m.tier.on {
		return
	}
	o := &m.tier.dev[id]
	*o = origin{ex: s.exRef, pos: int32(j), ready: ready}
	if j > 0 {
		o.parentHash = s.chain.Hash(j - 1)
	}
	m.maybeWriteThrough(id)
}

// computedBlock marks a device block registered ahead as written.
func (m *Manager) computedBlock(id blockpool.BlockID) {
	if m.tier.on && !m.tier.dev[id].ready {
		m.tier.dev[id].ready = true
		m.maybeWriteThrough(id)
	}
}

// hitBlock counts a claim of a device block (for MinHits).
func (m *Manager) hitBlock(id blockpool.BlockID) {
	if m.tier.on {
		o := &m.tier.dev[id]
		if o.hits < ^uint32(0) {
			o.hits++
		}
		m.maybeWriteThrough(id)
	}
}

// maybeWriteThrough queues a written device block for a host copy when the policy
// is write-through and it was hit often enough.
func (m *Manager) maybeWriteThrough(id blockpool.BlockID) {
	t := &m.tier
	o := &t.dev[id]
	if !t.writeThrough || o.queued || !o.ready || o.hits < t.minHits {
		return
	}
	o.queued = true
	t.wt = append(t.wt, queuedBlock{id: id, ident: m.pool.Identity(id)})
}

// flushWriteThrough copies every queued block that is still cached with the
// identity it was queued under and has no host copy.
func (m *Manager) flushWriteThrough() {
	t := &m.tier
	for _, q := range t.wt {
		t.dev[q.id].queued = false
		if m.pool.Identity(q.id) != q.ident {
			continue // evicted since (and copied then if it qualified)
		}
		k, ident, _ := m.pool.CachedKey(q.id)
		level, _ := m.pool.Level(q.id)
		m.offload(q.id, &k, ident, level)
	}
	t.wt = t.wt[:0]
}

// onEvict is the device pool's eviction hook (inside Allocate, under the lock): a
// GPU BlockRemoved event and, with a host cache, the offload.
func (m *Manager) onEvict(e *blockpool.Eviction) {
	m.stats.evictions++
	m.events.removed(prefix.Hash(e.Key.Hash), e.Last, MediumGPU, int(e.Key.Group))
	if m.tier.on {
		m.tier.dev[e.ID].queued = false // its queue entry goes stale with its identity
		m.offload(e.ID, &e.Key, e.Ident, e.Level)
	}
}

// onHostEvict is the host pool's eviction hook: a cached host copy is reused.
func (m *Manager) onHostEvict(e *blockpool.Eviction) {
	m.stats.hostEvictions++
	m.events.removed(prefix.Hash(e.Key.Hash), e.Last, MediumCPU, int(e.Key.Group))
}

// offload copies cached device block id (key k, identity ident, retention level) to
// a host block if its KV is written, its priority is high enough and no host block
// holds the same content; without a free host block it is dropped.
func (m *Manager) offload(id blockpool.BlockID, k *blockpool.Key, ident uint64, level int) {
	t := &m.tier
	o := &t.dev[id]
	if !o.ready || level < t.minLevel || m.host.NumFree() == 0 {
		return
	}
	if _, ok := m.host.Lookup(*k); ok {
		return // already there (write-through, or onloaded from there)
	}
	if !m.inCall {
		panic("paged: an offload outside a call that returns a copy list")
	}
	got, err := m.host.Allocate(m.hostOne[:0], 1)
	if err != nil {
		panic("paged: planned host allocation failed: " + err.Error())
	}
	h := got[0]
	first, err := m.host.Cache(h, *k, ident)
	if err != nil {
		panic("paged: caching a host copy failed: " + err.Error())
	}
	t.host[h] = *o
	t.host[h].queued, t.host[h].hits = false, 0
	m.out = append(m.out, BlockCopy{Src: id, Dst: h, Dir: DeviceToHost})
	m.stats.offloads++
	m.events.storedBlock(MediumCPU, k, &t.host[h], first)
	m.hostOne[0] = h
	_ = m.host.Release(m.hostOne[:1]) // to the tail of the host LRU
}

// onload claims host block h as the next block of s: a fresh device block cached under the
// host block's key and identity, and a HostToDevice copy. It reports whether the
// block's hash was new to the device index.
func (m *Manager) onload(s *sequence, h blockpool.BlockID) bool {
	got, err := m.pool.Allocate(m.oneBlock[:0], 1)
	if err != nil {
		panic("paged: planned allocation failed: " + err.Error())
	}
	d := got[0]
	k, ident, ok := m.host.CachedKey(h)
	if !ok {
		panic("paged: a claimed host block is not cached")
	}
	first, err := m.pool.Cache(d, k, ident)
	if err != nil {
		panic("paged: caching an onloaded block failed: " + err.Error())
	}
	m.tier.dev[d] = m.tier.host[h]
	m.tier.dev[d].ready, m.tier.dev[d].queued, m.tier.dev[d].hits = true, false, 1
	m.out = append(m.out, BlockCopy{Src: h, Dst: d, Dir: HostToDevice})
	m.stats.onloads++
	s.table = append(s.table, d)
	return first
}

// hostCachedBlocks returns the number of cached host blocks (0 without a host cache).
func (m *Manager) hostCachedBlocks() int {
	if !m.tier.on {
		return 0
	}
	return m.host.NumCached()
}
