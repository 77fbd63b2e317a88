package blockpool

import "fmt"

// CheckInvariants verifies every structural invariant of the pool and returns the
// first violation. It is O(NumBlocks) and meant for tests and fuzzers:
//   - ref == 0 ⇔ the block is linked in a free list; each list is a well-formed
//     circular list, the non-empty bitmap matches, and together they hold exactly
//     NumFree blocks;
//   - free + referenced = NumBlocks;
//   - a block kept at no level or at DefaultLevel has no expiry;
//   - retention is ordered: every block in level l's list has level l (or none, in
//     DefaultLevel's list); no block in a
//     list other than DefaultLevel's has expired (SetTime moved it), and each one
//     with an expiry has a live decay entry;
//   - the hash tables are well formed (every entry reachable from its home slot,
//     no key twice, at most half full);
//   - a block is cached ⇔ it is on the dup list of the index head for its hash; every
//     dup list is well formed and holds only blocks with that hash; cached blocks
//     have a nonzero identity, uncached ones none;
//   - with the child index, every cached block is on exactly one child list, the one
//     its (parent identity, first token) keys, and uncached blocks on none.
func (p *Pool) CheckInvariants() error {
	n := p.NumBlocks()
	q := &p.free
	seen := 0
	for l := range q.lists {
		s := q.sentinel(l)
		prev := s
		count := 0
		for id := p.blocks[s].next; id != s; id = p.blocks[id].next {
			if id < 0 || int(id) >= n {
				return fmt.Errorf("free list %d links to %d", l, id)
			}
			b := &p.blocks[id]
			switch {
			case b.prev != prev:
				return fmt.Errorf("free list %d: block %d prev %d, want %d", l, id, b.prev, prev)
			case b.ref != 0:
				return fmt.Errorf("block %d in free list %d with ref %d", id, l, b.ref)
			case int(b.list) != l:
				return fmt.Errorf("block %d in free list %d says list %d", id, l, b.list)
			case l > 0 && int(b.level) != l-1 && !(l-1 == p.defLevel && b.level == levelNone):
				return fmt.Errorf("block %d in the list of level %d has level %d", id, l-1, b.level)
			case l > 0 && l-1 != p.defLevel && p.exp[id] != 0 && p.exp[id] <= p.now:
				return fmt.Errorf("block %d at level %d expired at %d, clock %d", id, l-1, p.exp[id], p.now)
			}
			prev = id
			count++
			if seen++; seen > n {
				return fmt.Errorf("free lists have a cycle")
			}
		}
		if p.blocks[s].prev != prev {
			return fmt.Errorf("free list %d tail mismatch", l)
		}
		if nonEmpty := q.nonEmpty[l>>6]&(1<<(l&63)) != 0; nonEmpty != (count > 0) {
			return fmt.Errorf("free list %d holds %d blocks, bitmap says non-empty %v", l, count, nonEmpty)
		}
	}
	if seen != q.n {
		return fmt.Errorf("free lists hold %d blocks, count says %d", seen, q.n)
	}
	live := map[BlockID]bool{}
	for _, e := range p.decay {
		if e.at == p.exp[e.id] {
			live[e.id] = true
		}
	}
	referenced, cached := 0, 0
	for i := range n {
		b := &p.blocks[i]
		if b.ref < 0 {
			return fmt.Errorf("block %d has ref %d", i, b.ref)
		}
		linked := b.prev != NoBlock
		if linked != (b.ref == 0) || (b.prev == NoBlock) != (b.next == NoBlock) {
			return fmt.Errorf("block %d: ref %d but free-list links (%d,%d)", i, b.ref, b.prev, b.next)
		}
		if b.ref > 0 {
			referenced++
		}
		if b.level != levelNone && int(b.level) >= p.levels {
			return fmt.Errorf("block %d has level %d of %d", i, b.level, p.levels)
		}
		if (b.level == levelNone || int(b.level) == p.defLevel) && p.exp[i] != 0 {
			return fmt.Errorf("block %d at level %d (default %d) has expiry %d", i, b.level, p.defLevel, p.exp[i])
		}
		if b.ref == 0 && b.list > 0 && b.level != levelNone && int(b.level) != p.defLevel && p.exp[i] != 0 && !live[BlockID(i)] {
			return fmt.Errorf("block %d at level %d expires at %d but no decay is scheduled", i, b.level, p.exp[i])
		}
		if (b.dupPrev == NoBlock) != (b.dupNext == NoBlock) {
			return fmt.Errorf("block %d: half-linked dup list", i)
		}
		if b.cached() != (b.ident != 0) {
			return fmt.Errorf("block %d: cached %v with identity %d", i, b.cached(), b.ident)
		}
		if b.cached() {
			cached++
			if _, ok := p.index.head.get(indexKey(b.hash, b.group)); !ok {
				return fmt.Errorf("block %d cached under %x but the index lacks the hash", i, b.hash)
			}
		} else if b.level != levelNone || p.exp[i] != 0 {
			return fmt.Errorf("uncached block %d has level %d expiry %d", i, b.level, p.exp[i])
		}
	}
	if p.free.n+referenced != n {
		return fmt.Errorf("free %d + referenced %d != %d", p.free.n, referenced, n)
	}
	if err := p.checkIndex(cached); err != nil {
		return err
	}
	return p.checkChildren(cached)
}

func (p *Pool) checkIndex(cached int) error {
	n := p.NumBlocks()
	if err := p.index.head.check(); err != nil {
		return err
	}
	listed := 0
	var listErr error
	p.index.head.each(func(h uint64, head BlockID) {
		prev := p.blocks[head].dupPrev
		for id := head; listErr == nil; {
			b := &p.blocks[id]
			switch {
			case !b.cached() || indexKey(b.hash, b.group) != h:
				listErr = fmt.Errorf("index %x lists block %d (cached %v, hash %x)", h, id, b.cached(), b.hash)
			case b.dupPrev != prev:
				listErr = fmt.Errorf("dup list of %x broken at %d", h, id)
			case listed >= n:
				listErr = fmt.Errorf("dup list cycle")
			}
			listed++
			prev = id
			if id = b.dupNext; id == head {
				break
			}
		}
	})
	if listErr != nil {
		return listErr
	}
	if cached != p.index.count {
		return fmt.Errorf("%d blocks cached, count says %d", cached, p.index.count)
	}
	if listed != cached {
		return fmt.Errorf("index lists %d blocks, %d are cached", listed, cached)
	}
	return nil
}

func (p *Pool) checkChildren(cached int) error {
	x := &p.index
	if x.kids == nil {
		return nil
	}
	if err := x.kids.check(); err != nil {
		return err
	}
	listed := 0
	var err error
	x.kids.each(func(key uint64, head BlockID) {
		prev := x.kidPrev[head]
		for id := head; err == nil; {
			switch {
			case !p.blocks[id].cached() || childKey(p.blocks[id].parent, x.blockTokens(id)[0]) != key:
				err = fmt.Errorf("child list %x holds block %d (cached %v)", key, id, p.blocks[id].cached())
			case x.kidPrev[id] != prev:
				err = fmt.Errorf("child list %x broken at %d", key, id)
			case listed >= p.NumBlocks():
				err = fmt.Errorf("child list cycle")
			}
			listed++
			prev = id
			if id = x.kidNext[id]; id == head {
				break
			}
		}
	})
	if err != nil {
		return err
	}
	if listed != cached {
		return fmt.Errorf("child lists hold %d blocks, %d are cached", listed, cached)
	}
	for i := range p.NumBlocks() {
		if !p.blocks[i].cached() && (x.kidPrev[i] != NoBlock || x.kidNext[i] != NoBlock) {
			return fmt.Errorf("uncached block %d is on a child list", i)
		}
	}
	return nil
}
