package blockpool

import "fmt"

// Pool is the set of physical blocks of one device. It is not safe for concurrent use.
// Every method that returns an error leaves the pool unchanged.
type Pool struct {
	blocks    []blockMeta // blocks[0..n-1] are real; blocks[n] is the free-queue sentinel
	free      freeQueue
	index     hashIndex
	policy    ReleasePolicy
	onEvict   func(BlockID, uint64, bool)
	evictions uint64
}

// New validates cfg (see Config for the defaults and limits) and returns a pool whose
// free queue holds every block in id order. It allocates about
// MetadataBytes(cfg.NumBlocks, cfg.BlockSize) bytes, checked against
// MaxMetadataBytes before anything is allocated.
func New(cfg Config) (*Pool, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Pool{blocks: make([]blockMeta, cfg.NumBlocks+1), policy: cfg.Policy, onEvict: cfg.OnEvict}
	p.free.init(p.blocks)
	for i := range cfg.NumBlocks {
		b := &p.blocks[i]
		b.dupPrev, b.dupNext = NoBlock, NoBlock
		p.free.pushTail(BlockID(i))
	}
	p.index.init(p.blocks, cfg.NumBlocks, cfg.BlockSize)
	return p, nil
}

// NumBlocks returns the number of physical blocks.
func (p *Pool) NumBlocks() int { return len(p.blocks) - 1 }

// BlockSize returns the tokens per block.
func (p *Pool) BlockSize() int { return p.index.blockSize }

// NumFree returns the number of blocks with reference count 0 (cached ones included).
func (p *Pool) NumFree() int { return p.free.n }

// NumCached returns the number of blocks that carry a hash (in use or free).
func (p *Pool) NumCached() int { return p.index.count }

// inRange reports whether id names a block of the pool.
func (p *Pool) inRange(id BlockID) bool { return uint(id) < uint(len(p.blocks)-1) }

func (p *Pool) check(id BlockID) error {
	if !p.inRange(id) {
		return fmt.Errorf("%w: id %d not in [0,%d)", ErrInvalidBlock, id, p.NumBlocks())
	}
	return nil
}

// RefCount returns block id's reference count (0 for an out-of-range id).
func (p *Pool) RefCount(id BlockID) int {
	if !p.inRange(id) {
		return 0
	}
	return int(p.blocks[id].ref)
}

// Hash returns block id's hash and whether it is cached.
func (p *Pool) Hash(id BlockID) (uint64, bool) {
	if !p.inRange(id) || !p.blocks[id].cached() {
		return 0, false
	}
	return p.blocks[id].hash, true
}

// Writable reports whether block id can be written in place by its holder: it is
// referenced exactly once and carries no hash. An out-of-range id is not writable.
func (p *Pool) Writable(id BlockID) bool {
	if !p.inRange(id) {
		return false
	}
	b := &p.blocks[id]
	return b.ref == 1 && b.dupPrev == NoBlock
}

// Ref returns the (id, generation) reference to a block, for use as a child's Parent.
// For an out-of-range id it returns a reference that no cached block's parent equals.
func (p *Pool) Ref(id BlockID) BlockRef {
	if !p.inRange(id) {
		return BlockRef{ID: id}
	}
	return BlockRef{ID: id, Gen: p.blocks[id].gen}
}

// FreeOrder appends the free queue, head (next to be reused) to tail, to dst.
func (p *Pool) FreeOrder(dst []BlockID) []BlockID {
	s := p.free.sentinel
	for id := p.blocks[s].next; id != s; id = p.blocks[id].next {
		dst = append(dst, id)
	}
	return dst
}

// Allocate pops n blocks from the head of the free queue, appends them to dst with
// reference count 1, and returns dst. A popped cached block loses its hash (an
// eviction, reported to OnEvict). All or nothing: with fewer than n free blocks it
// returns ErrNoSpace and changes nothing.
func (p *Pool) Allocate(dst []BlockID, n int) ([]BlockID, error) {
	if n < 0 {
		return dst, fmt.Errorf("%w: allocate %d blocks", ErrInvalidBlock, n)
	}
	if n > p.free.n {
		return dst, fmt.Errorf("%w: need %d, free %d", ErrNoSpace, n, p.free.n)
	}
	for range n {
		id := p.free.popHead()
		b := &p.blocks[id]
		if b.cached() {
			h, last := p.index.remove(id)
			p.evictions++
			if p.onEvict != nil {
				p.onEvict(id, h, last)
			}
		}
		b.ref = 1
		dst = append(dst, id)
	}
	return dst, nil
}

// Retain adds a reference to block id. A free block (a prefix hit on a cached block) is
// unlinked from the free queue and keeps its hash.
func (p *Pool) Retain(id BlockID) error {
	if err := p.check(id); err != nil {
		return err
	}
	b := &p.blocks[id]
	if b.ref == 0 {
		p.free.remove(id)
	}
	b.ref++
	return nil
}

// Release drops one reference from each block in ids. Blocks that reach zero enter the
// free queue as the policy says, in the given order: ids is in eviction-priority order
// (the first is evicted first among those placed at the same end). A block released
// twice in ids loses two references. All or nothing: if any block would drop below
// zero or is out of range, nothing changes and ErrInvalidBlock is returned.
func (p *Pool) Release(ids []BlockID) error {
	return p.release(ids, false)
}

// ReleaseTable releases a block table tail-first (table[len-1] is evicted first), so
// the end of a prefix chain leaves the cache before its beginning.
func (p *Pool) ReleaseTable(table []BlockID) error {
	return p.release(table, true)
}

func (p *Pool) release(ids []BlockID, reversed bool) error {
	at := func(i int) BlockID { // inlined: no call on the release path
		if reversed {
			i = len(ids) - 1 - i
		}
		return ids[i]
	}
	for i := range ids {
		id := at(i)
		if err := p.check(id); err != nil || p.blocks[id].ref == 0 {
			for j := range i { // undo
				p.blocks[at(j)].ref++
			}
			if err == nil {
				err = fmt.Errorf("%w: block %d is already free", ErrInvalidBlock, id)
			}
			return err
		}
		p.blocks[id].ref--
	}
	headCursor := p.free.sentinel // head-bound blocks keep their relative order
	for i := range ids {
		id := at(i)
		b := &p.blocks[id]
		if b.ref != 0 || b.prev != NoBlock { // still held, or listed twice
			continue
		}
		if p.policy.ToHead(b.cached()) {
			p.free.insertAfter(id, headCursor)
			headCursor = id
		} else {
			p.free.pushTail(id)
		}
	}
	return nil
}

// Cache registers block id, which must be referenced and not cached, under k. It
// reports whether k.Hash is new to the index (no other block carries it).
func (p *Pool) Cache(id BlockID, k Key) (first bool, err error) {
	if err := p.check(id); err != nil {
		return false, err
	}
	if len(k.Tokens) != p.index.blockSize {
		return false, fmt.Errorf("%w: %d tokens, block size %d", ErrInvalidKey, len(k.Tokens), p.index.blockSize)
	}
	b := &p.blocks[id]
	if b.ref == 0 || b.cached() {
		return false, fmt.Errorf("%w: block %d (ref %d, cached %v) cannot be cached", ErrInvalidBlock, id, b.ref, b.cached())
	}
	return p.index.insert(id, &k), nil
}

// Lookup returns the oldest cached block whose hash, tokens, extra fingerprint and
// parent reference all equal k's. It changes nothing.
func (p *Pool) Lookup(k Key) (BlockID, bool) {
	if len(k.Tokens) != p.index.blockSize {
		return NoBlock, false
	}
	return p.index.lookup(&k)
}

// ResetCache removes every hash. It is refused with ErrInUse while any block is
// referenced. The free-queue order is kept.
func (p *Pool) ResetCache() error {
	if p.free.n != p.NumBlocks() {
		return fmt.Errorf("%w: %d of %d blocks referenced", ErrInUse, p.NumBlocks()-p.free.n, p.NumBlocks())
	}
	p.index.clear()
	return nil
}
