package paged

import (
	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// ResyncEvents discards the queued events and appends to dst, as of now and under
// one lock, an AllBlocksCleared (and, with a host prefix cache, a second one with
// MediumCPU right after it) followed by a BlockStored for every cached block:
// applied to any view of this Manager's cache (stale, partial or empty), the
// returned events leave exactly the cache as it is, and the events queued
// afterwards (TakeEvents) continue from there. A publisher calls it when
// TakeEvents reports dropped events, and when it starts (or restarts) publishing a
// Manager whose cache is not empty, so that subscribers rebuild the cache instead
// of believing stale entries or missing live ones.
//
// Blocks that live sequences hold come first, one BlockStored per run of a
// sequence's blocks with everything TakeEvents would carry (parent, tokens,
// adapter, extra keys, digests); then every other cached block (free, kept for
// later hits), each in its own BlockStored after its parent when that is still
// cached, with its hash, parent hash (HasParent false when the parent is no longer
// cached, or for a device block when it is cached only on the host), tokens and
// medium only, marked Detached: such a block's adapter, extra keys and full digest
// are not kept, so they are empty and FirstBlock is 0. In the per-distinct-hash
// form (EventOptions.PerDistinctHash) each hash is announced once per tier (and
// KV-cache group). The queue's limits do not apply: the result grows with the
// cache (one event and BlockSize token ids per cached block at most). Events carry
// their blocks' group.
//
// The returned events' slices stay valid until the next TakeEvents or
// ResyncEvents. With events disabled it returns dst unchanged.
func (m *Manager) ResyncEvents(dst []Event) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := &m.events
	if !q.on {
		return dst
	}
	q.cur.reset()
	q.dropped = 0
	b := &q.cur
	b.events = append(b.events, Event{Kind: AllBlocksCleared, Medium: MediumGPU})
	if m.tier.on { // both clears first: a consumer that clears everything on either loses nothing
		b.events = append(b.events, Event{Kind: AllBlocksCleared, Medium: MediumCPU})
	}
	r := resync{m: m, b: b, emitted: make([]uint64, (m.pool.NumBlocks()+63)/64),
		idents: [2]map[uint64]blockpool.BlockID{identities(m.pool), identities(m.host)}}
	if q.distinct {
		r.seen = make(map[groupHash]struct{})
	}
	// Blocks of live sequences, in chain order, with their full description (per
	// KV-cache group, from the first block a windowed group still holds).
	for i := range m.seqs {
		s := &m.seqs[i]
		if !s.live || s.swapped {
			continue
		}
		for g := range m.grp {
			tab := *s.tab(g)
			run := -1
			for j := m.liveFrom(s, g); j <= s.numCached; j++ {
				fresh := j < s.numCached && r.claim(tab[j], s.chain.Hash(j), uint32(g))
				switch {
				case fresh && run < 0:
					run = j
				case !fresh && run >= 0:
					b.events = append(b.events, b.storedEvent(s, g, run, j, m.bs, q.digestSize > 0))
					run = -1
				}
			}
		}
	}
	// Every other cached block, parents first.
	r.pool, r.medium, r.tier = m.pool, MediumGPU, 0
	for id := range m.pool.NumBlocks() {
		r.announce(blockpool.BlockID(id))
	}
	if m.host != nil {
		r.pool, r.medium, r.tier = m.host, MediumCPU, 1
		r.emitted = make([]uint64, (m.host.NumBlocks()+63)/64)
		if q.distinct { // each hash once per tier: the host's copies are announced too
			r.seen = make(map[groupHash]struct{})
		}
		for id := range m.host.NumBlocks() {
			r.announce(blockpool.BlockID(id))
		}
	}
	dst, _ = q.take(dst)
	return dst
}

// resync walks a pool's cached blocks for ResyncEvents.
type resync struct {
	m       *Manager
	b       *eventBuf
	pool    *blockpool.Pool
	medium  Medium
	tier    int                    // 0: the device pool is walked, 1: the host pool
	emitted []uint64               // bit per block of the pool being walked
	seen    map[groupHash]struct{} // per-distinct-hash form: (group, hash) pairs announced
	stack   []blockpool.BlockID
	// idents maps, per tier (device, host), the identity of each cached block to a
	// block carrying it: a child's parent is the block carrying its Key.Parent.
	idents [2]map[uint64]blockpool.BlockID
}

// identities maps the identities of a pool's cached blocks to blocks (nil pool:
// empty).
func identities(p *blockpool.Pool) map[uint64]blockpool.BlockID {
	out := map[uint64]blockpool.BlockID{}
	if p == nil {
		return out
	}
	for id := range blockpool.BlockID(p.NumBlocks()) {
		if ident := p.Identity(id); ident != 0 {
			if _, dup := out[ident]; !dup {
				out[ident] = id
			}
		}
	}
	return out
}

// groupHash is a hash within a KV-cache group.
type groupHash struct {
	h prefix.Hash
	g uint32
}

// claim marks block id (of group g) as announced and reports whether it should be
// (not yet announced, and in the per-distinct-hash form a hash not yet announced in
// its group).
func (r *resync) claim(id blockpool.BlockID, h prefix.Hash, g uint32) bool {
	w, bit := int(id)/64, uint64(1)<<(uint(id)%64)
	if r.emitted[w]&bit != 0 {
		return false
	}
	r.emitted[w] |= bit
	if r.seen != nil {
		if _, dup := r.seen[groupHash{h, g}]; dup {
			return false
		}
		r.seen[groupHash{h, g}] = struct{}{}
	}
	return true
}

// announce emits block id if it is cached and not yet announced, after the
// still-cached ancestors that are not announced either.
func (r *resync) announce(id blockpool.BlockID) {
	r.stack = r.stack[:0]
	for {
		k, _, ok := r.pool.CachedKey(id)
		if !ok || r.emitted[int(id)/64]&(1<<(uint(id)%64)) != 0 {
			break
		}
		r.stack = append(r.stack, id)
		parent, ok := r.idents[r.tier][k.Parent] // its parent in the same tier
		if k.Parent == 0 || !ok {
			break
		}
		id = parent
	}
	for i := len(r.stack) - 1; i >= 0; i-- {
		id := r.stack[i]
		k, _, _ := r.pool.CachedKey(id)
		if r.claim(id, prefix.Hash(k.Hash), k.Group) {
			r.emit(k)
		}
	}
}

// parentHash returns the hash of a cached block carrying identity ident, and
// whether there is one already announced: in the tier being walked, or (for a host
// block) on the device, walked first. A device block whose parent is cached only on
// the host is announced without one, as no consumer has seen that parent yet.
func (r *resync) parentHash(ident uint64) (uint64, bool) {
	if ident == 0 {
		return 0, false
	}
	pools := [2]*blockpool.Pool{r.m.pool, r.m.host}
	for t := r.tier; t >= 0; t-- {
		if id, ok := r.idents[t][ident]; ok {
			return pools[t].Hash(id)
		}
	}
	return 0, false
}

// emit appends a BlockStored for one cached block described by its key only.
func (r *resync) emit(k blockpool.Key) {
	b := r.b
	h0, t0 := len(b.hashes), len(b.tokens)
	b.hashes = append(b.hashes, prefix.Hash(k.Hash))
	b.tokens = append(b.tokens, k.Tokens...)
	e := Event{
		Kind: BlockStored, Hashes: b.hashes[h0:len(b.hashes):len(b.hashes)], Tokens: b.tokens[t0:len(b.tokens):len(b.tokens)],
		BlockSize: r.m.bs, Medium: r.medium, Detached: true, Group: int(k.Group),
	}
	if ph, ok := r.parentHash(k.Parent); ok {
		e.ParentHash, e.HasParent = prefix.Hash(ph), true
	}
	b.events = append(b.events, e)
}
