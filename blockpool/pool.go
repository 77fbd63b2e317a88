package blockpool

import "fmt"

// Pool is the set of physical blocks of one device. It is not safe for concurrent use.
// Every method that returns an error leaves the pool unchanged.
type Pool struct {
	// blocks[0..n-1] are real; blocks[n..n+Levels] are the free lists' sentinels.
	blocks   []blockMeta
	free     freeQueue
	index    hashIndex
	policy   ReleasePolicy
	onEvict  func(*Eviction)
	ev       Eviction // scratch passed to onEvict
	levels   int
	defLevel int
	// exp[id] is block id's retention expiry (0: never). Invariants: exp is 0 for a
	// block kept at no level or at DefaultLevel (so forgetting such a level writes
	// nothing here); a free block in a level list other than DefaultLevel's has
	// exp == 0 or exp > now (SetTime moves it when it expires), and then a live
	// entry in decay.
	exp       []int64
	now       int64
	decay     decayHeap
	evictions uint64
	sink      BlockID // what prefetches read (kept so the reads are not dropped)
}

// New validates cfg (see Config for the defaults and limits) and returns a pool whose
// free queue holds every block in id order. It allocates at most
// MetadataBytesFor(cfg) bytes, checked against MaxMetadataBytes before anything is
// allocated.
func New(cfg Config) (*Pool, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n, lists := cfg.NumBlocks, cfg.Levels+1
	p := &Pool{blocks: make([]blockMeta, n+lists), policy: cfg.Policy, onEvict: cfg.OnEvict,
		levels: cfg.Levels, defLevel: cfg.DefaultLevel, exp: make([]int64, n)}
	p.free.init(p.blocks, BlockID(n), lists)
	p.index.init(p.blocks, n, cfg.BlockSize, cfg.IndexChildren)
	for i := range n {
		b := &p.blocks[i]
		b.dupPrev, b.dupNext = NoBlock, NoBlock
		b.level = levelNone
		if p.index.kids != nil {
			p.index.kidPrev[i], p.index.kidNext[i] = NoBlock, NoBlock
		}
		p.free.pushTail(BlockID(i), 1+p.defLevel)
	}
	return p, nil
}

// NumBlocks returns the number of physical blocks.
func (p *Pool) NumBlocks() int { return len(p.exp) }

// BlockSize returns the tokens per block.
func (p *Pool) BlockSize() int { return p.index.blockSize }

// NumFree returns the number of blocks with reference count 0 (cached ones included).
func (p *Pool) NumFree() int { return p.free.n }

// NumCached returns the number of blocks that carry a hash (in use or free).
func (p *Pool) NumCached() int { return p.index.count }

// inRange reports whether id names a block of the pool.
func (p *Pool) inRange(id BlockID) bool { return uint(id) < uint(len(p.exp)) }

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

// Identity returns the identity a cached block was cached with (see Cache), or 0 for
// a block that is not cached or out of range.
func (p *Pool) Identity(id BlockID) uint64 {
	if !p.inRange(id) {
		return 0
	}
	return p.blocks[id].ident
}

// CachedKey returns a cached block's key and identity. Key.Tokens aliases the pool's
// storage: read it only, and only until the block is evicted or uncached. ok is
// false for a block that is not cached or out of range.
func (p *Pool) CachedKey(id BlockID) (k Key, ident uint64, ok bool) {
	if !p.inRange(id) || !p.blocks[id].cached() {
		return Key{}, 0, false
	}
	b := &p.blocks[id]
	return Key{Hash: b.hash, Parent: b.parent, Tokens: p.index.blockTokens(id), Extra: b.extra, Group: b.group}, b.ident, true
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

// FreeOrder appends the free queue, head (next to be reused) to tail, to dst.
func (p *Pool) FreeOrder(dst []BlockID) []BlockID {
	p.free.each(func(id BlockID) { dst = append(dst, id) })
	return dst
}

// Allocate pops n blocks from the head of the free queue, appends them to dst with
// reference count 1, and returns dst. A popped cached block loses its hash (an
// eviction, reported to OnEvict first). All or nothing: with fewer than n free
// blocks it returns ErrNoSpace and changes nothing.
func (p *Pool) Allocate(dst []BlockID, n int) ([]BlockID, error) {
	if n < 0 {
		return dst, fmt.Errorf("%w: allocate %d blocks", ErrInvalidBlock, n)
	}
	if n > p.free.n {
		return dst, fmt.Errorf("%w: need %d, free %d", ErrNoSpace, n, p.free.n)
	}
	q := &p.free
	for n > 0 { // take whole runs from the lowest non-empty lists
		l := q.first()
		s := q.sentinel(l)
		id := p.blocks[s].next
		for ahead := 0; n > 0 && id != s; n-- {
			if ahead--; ahead < 0 && n > 1 {
				ahead = p.prefetchEvictions(id, s, min(n, prefetchRun)) - 1
			}
			b := &p.blocks[id]
			next := b.next
			b.prev, b.next = NoBlock, NoBlock
			q.n--
			if b.cached() {
				p.evict(id, b)
			}
			b.ref = 1
			dst = append(dst, id)
			id = next
		}
		p.blocks[s].next, p.blocks[id].prev = id, s
		if id == s {
			q.nonEmpty[l>>6] &^= 1 << (l & 63)
		}
	}
	return dst, nil
}

// prefetchRun is how many blocks ahead Allocate reads the index slots of the cached
// blocks it is about to evict.
const prefetchRun = 16

// prefetchEvictions reads the free-list records of up to k blocks from id on (list
// sentinel s ends the list) and the index slot each cached one is filed under, and
// returns how many blocks it covered. The reads are independent of each other, so
// the CPU overlaps their cache misses; the evictions that follow find the lines in
// the cache instead of missing on each in turn.
func (p *Pool) prefetchEvictions(id, s BlockID, k int) int {
	t := &p.index.head
	var sink BlockID
	i := 0
	for ; i < k && id != s; i++ {
		b := &p.blocks[id]
		if b.dupPrev != NoBlock {
			sink |= t.touch(indexKey(b.hash, b.group))
		}
		id = b.next
	}
	p.sink += sink
	return i
}

// evict drops a popped cached block's cache entry, telling OnEvict first.
func (p *Pool) evict(id BlockID, b *blockMeta) {
	if p.onEvict != nil {
		e := &p.ev
		e.ID, e.Ident, e.Level, e.Last = id, b.ident, p.levelOf(id), !p.index.groupIn(id, id, b.group)
		e.Key = Key{Hash: b.hash, Parent: b.parent, Tokens: p.index.blockTokens(id), Extra: b.extra, Group: b.group}
		p.onEvict(e)
		e.Key.Tokens = nil
	}
	p.index.remove(id)
	p.evictions++
	p.resetLevel(id) // an uncached block has none already
}

// Retain adds a reference to block id. A free block (a prefix hit on a cached block) is
// unlinked from the free queue and keeps its hash and retention level.
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

// Release drops one reference from each block in ids, asking the default retention
// (DefaultLevel, never expiring) for the cached ones.
// Blocks that reach zero enter the free queue as the policy says, in the given
// order: ids is in eviction-priority order (the first is evicted first among those
// placed in the same list). A block released twice in ids loses two references. All
// or nothing: if any block would drop below zero or is out of range, nothing changes
// and ErrInvalidBlock is returned.
func (p *Pool) Release(ids []BlockID) error {
	return p.release(ids, false, p.DefaultRetention())
}

// ReleaseTable releases a block table tail-first (table[len-1] is evicted first), so
// the end of a prefix chain leaves the cache before its beginning.
func (p *Pool) ReleaseTable(table []BlockID) error {
	return p.release(table, true, p.DefaultRetention())
}

// ReleaseWith is Release asking retention r for the cached blocks it releases (the
// max rule of Retention applies to every cached block in ids, whether or not it
// reaches zero). A bad r gives ErrInvalidRetention and changes nothing.
func (p *Pool) ReleaseWith(ids []BlockID, r Retention) error {
	if err := p.checkRetention(r); err != nil {
		return err
	}
	return p.release(ids, false, r)
}

// ReleaseTableWith is ReleaseTable asking retention r (see ReleaseWith).
func (p *Pool) ReleaseTableWith(table []BlockID, r Retention) error {
	if err := p.checkRetention(r); err != nil {
		return err
	}
	return p.release(table, true, r)
}

func (p *Pool) release(ids []BlockID, reversed bool, r Retention) error {
	at := func(i int) BlockID { // inlined: no call on the release path
		if reversed {
			i = len(ids) - 1 - i
		}
		return ids[i]
	}
	for i := range ids {
		id := at(i)
		if !p.inRange(id) || p.blocks[id].ref == 0 { // inlined: no call per block
			for j := range i { // undo
				p.blocks[at(j)].ref++
			}
			if err := p.check(id); err != nil {
				return err
			}
			return fmt.Errorf("%w: block %d is already free", ErrInvalidBlock, id)
		}
		p.blocks[id].ref--
	}
	headCursor := p.free.sentinel(0) // head-bound blocks keep their relative order
	def := p.defLevel
	for i := range ids {
		id := at(i)
		b := &p.blocks[id]
		cached := b.cached()
		if cached && (r.Level != def || int(b.level) != def) { // a default ask on a default block changes nothing
			p.retain(id, r)
		}
		if b.ref != 0 || b.prev != NoBlock { // still held, or listed twice
			continue
		}
		if p.policy.ToHead(cached) {
			p.free.insertAfter(id, headCursor, 0)
			headCursor = id
			continue
		}
		l := def
		if cached && b.level != levelNone && int(b.level) != def {
			l = p.keptLevel(id)
		}
		p.free.pushTail(id, 1+l)
	}
	return nil
}

// Cache registers block id, which must be referenced and not cached, under k with
// identity ident (nonzero). The identity names the block's content for its children:
// a later block whose Key.Parent equals ident is found only through a block cached
// with that identity. A caller gives a fresh identity to content computed anew and
// the source's identity to a copy of a cached block (another tier), so children stay
// reachable through the copy. It reports whether k.Hash is new to the index.
func (p *Pool) Cache(id BlockID, k Key, ident uint64) (first bool, err error) {
	if err := p.check(id); err != nil {
		return false, err
	}
	if len(k.Tokens) != p.index.blockSize || ident == 0 {
		return false, fmt.Errorf("%w: %d tokens (block size %d), identity %d", ErrInvalidKey, len(k.Tokens), p.index.blockSize, ident)
	}
	b := &p.blocks[id]
	if b.ref == 0 || b.cached() {
		return false, fmt.Errorf("%w: block %d (ref %d, cached %v) cannot be cached", ErrInvalidBlock, id, b.ref, b.cached())
	}
	p.resetLevel(id)
	return p.index.insert(id, &k, ident), nil
}

// PrefetchCache is a hint that block id is about to be cached under content hash
// hash in group (Cache): it reads the block's record, the first line of its token
// storage and the index slots where the probe starts. A caller about to cache a run
// of blocks prefetches them first (a dozen or two at a time), so the CPU overlaps the
// cache misses of these independent reads instead of each Cache call taking its own
// in turn. It changes nothing; an out-of-range id is ignored.
func (p *Pool) PrefetchCache(id BlockID, hash uint64, group uint32) {
	if !p.inRange(id) {
		return
	}
	p.sink += p.blocks[id].ref + BlockID(p.index.tokens[int(id)*p.index.blockSize])
	p.sink += p.index.head.touch(indexKey(hash, group))
}

// Lookup returns the oldest cached block whose hash, group, tokens, extra fingerprint
// and parent identity all equal k's. It changes nothing.
func (p *Pool) Lookup(k Key) (BlockID, bool) {
	id, _, ok := p.LookupIdentity(k)
	return id, ok
}

// LookupIdentity is Lookup that also returns the block's identity (the Parent of
// the next block of the chain), in one probe.
func (p *Pool) LookupIdentity(k Key) (BlockID, uint64, bool) {
	if len(k.Tokens) != p.index.blockSize {
		return NoBlock, 0, false
	}
	id, ok := p.index.lookup(&k)
	if !ok {
		return NoBlock, 0, false
	}
	return id, p.blocks[id].ident, true
}

// DefaultPartialScan is the number of candidates Partial examines when asked for 0.
const DefaultPartialScan = 32

// Partial returns the cached block with parent identity parent and extra fingerprint
// extra whose leading tokens match the longest prefix of tokens (1 ≤ k ≤
// len(tokens) ≤ BlockSize matching tokens; the oldest block wins a tie), looking at
// no more than maxScan candidates that share tokens[0] (0 means DefaultPartialScan).
// Only blocks of group 0 are candidates. It needs Config.IndexChildren (else it
// finds nothing) and changes nothing.
func (p *Pool) Partial(parent, extra uint64, tokens []int32, maxScan int) (BlockID, int) {
	if len(tokens) > p.index.blockSize || maxScan < 0 {
		return NoBlock, 0
	}
	if maxScan == 0 {
		maxScan = DefaultPartialScan
	}
	return p.index.partial(parent, extra, tokens, maxScan)
}

// ResetCache removes every hash and every retention. It is refused with ErrInUse
// while any block is referenced. The free-queue order is kept.
func (p *Pool) ResetCache() error {
	if p.free.n != p.NumBlocks() {
		return fmt.Errorf("%w: %d of %d blocks referenced", ErrInUse, p.NumBlocks()-p.free.n, p.NumBlocks())
	}
	p.index.clear()
	p.flatten()
	return nil
}

// DropCached removes every hash and every retention, like ResetCache, but is refused
// (ErrInUse) only while a cached block is referenced: referenced blocks that carry
// no hash (a host tier's swapped-out sequences) may stay. The free-queue order is
// kept.
func (p *Pool) DropCached() error {
	for id := range BlockID(p.NumBlocks()) {
		if b := &p.blocks[id]; b.ref > 0 && b.cached() {
			return fmt.Errorf("%w: cached block %d is referenced", ErrInUse, id)
		}
	}
	p.index.clear()
	p.flatten()
	return nil
}
