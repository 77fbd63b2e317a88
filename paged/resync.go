package paged

import (
	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// ResyncEvents discards the queued events and appends to dst, as of now and under
// one lock, an AllBlocksCleared followed by a BlockStored for every cached block:
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
// cached), tokens and medium only, marked Detached: such a block's adapter, extra
// keys and full digest are not kept, so they are empty and FirstBlock is 0. In the
// per-distinct-hash form (EventOptions.PerDistinctHash) each hash is announced
// once. The queue's limits do not apply: the result grows with the cache (one
// event and BlockSize token ids per cached block at most).
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
	r := resync{m: m, b: b, emitted: make([]uint64, (m.pool.NumBlocks()+63)/64)}
	if q.distinct {
		r.seen = make(map[prefix.Hash]struct{})
	}
	// Blocks of live sequences, in chain order, with their full description.
	for i := range m.seqs {
		s := &m.seqs[i]
		if !s.live || s.swapped {
			continue
		}
		run := -1
		for j := 0; j <= s.numCached; j++ {
			fresh := j < s.numCached && r.claim(s.table[j], s.chain.Hash(j))
			switch {
			case fresh && run < 0:
				run = j
			case !fresh && run >= 0:
				b.events = append(b.events, b.storedEvent(s, run, j, m.bs, q.digestSize > 0))
				run = -1
			}
		}
	}
	// Every other cached block, parents first.
	r.pool, r.medium = m.pool, MediumGPU
	for id := range m.pool.NumBlocks() {
		r.announce(blockpool.BlockID(id))
	}
	if m.host != nil {
		r.pool, r.medium = m.host, MediumCPU
		r.emitted = make([]uint64, (m.host.NumBlocks()+63)/64)
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
	emitted []uint64                 // bit per block of the pool being walked
	seen    map[prefix.Hash]struct{} // per-distinct-hash form: hashes announced
	stack   []blockpool.BlockID
}

// claim marks block id as announced and reports whether it should be (not yet
// announced, and in the per-distinct-hash form a hash not yet announced).
func (r *resync) claim(id blockpool.BlockID, h prefix.Hash) bool {
	w, bit := int(id)/64, uint64(1)<<(uint(id)%64)
	if r.emitted[w]&bit != 0 {
		return false
	}
	r.emitted[w] |= bit
	if r.seen != nil {
		if _, dup := r.seen[h]; dup {
			return false
		}
		r.seen[h] = struct{}{}
	}
	return true
}

// announce emits block id if it is cached and not yet announced, after the
// still-cached ancestors that are not announced either.
func (r *resync) announce(id blockpool.BlockID) {
	r.stack = r.stack[:0]
	for {
		k, ok := r.pool.CachedKey(id)
		if !ok || r.emitted[int(id)/64]&(1<<(uint(id)%64)) != 0 {
			break
		}
		r.stack = append(r.stack, id)
		if !r.liveParent(k.Parent) {
			break
		}
		id = k.Parent.ID
	}
	for i := len(r.stack) - 1; i >= 0; i-- {
		id := r.stack[i]
		k, _ := r.pool.CachedKey(id)
		if r.claim(id, prefix.Hash(k.Hash)) {
			r.emit(k)
		}
	}
}

// liveParent reports whether ref names a block still cached with the content it
// had when its child was cached.
func (r *resync) liveParent(ref blockpool.BlockRef) bool {
	if ref.ID == blockpool.NoBlock || r.pool.Ref(ref.ID) != ref {
		return false
	}
	_, ok := r.pool.Hash(ref.ID)
	return ok
}

// emit appends a BlockStored for one cached block described by its key only.
func (r *resync) emit(k blockpool.Key) {
	b := r.b
	h0, t0 := len(b.hashes), len(b.tokens)
	b.hashes = append(b.hashes, prefix.Hash(k.Hash))
	b.tokens = append(b.tokens, k.Tokens...)
	e := Event{
		Kind: BlockStored, Hashes: b.hashes[h0:len(b.hashes):len(b.hashes)], Tokens: b.tokens[t0:len(b.tokens):len(b.tokens)],
		BlockSize: r.m.bs, Medium: r.medium, Detached: true,
	}
	if r.liveParent(k.Parent) {
		ph, _ := r.pool.Hash(k.Parent.ID)
		e.ParentHash, e.HasParent = prefix.Hash(ph), true
	}
	b.events = append(b.events, e)
}
