package blockpool

import "fmt"

// CheckInvariants verifies every structural invariant of the pool and returns the
// first violation. It is O(NumBlocks) and meant for tests and fuzzers:
//   - ref == 0 ⇔ the block is linked in the free queue; the queue is a well-formed
//     circular list of exactly NumFree blocks;
//   - free + referenced = NumBlocks;
//   - a block is cached ⇔ it is on the dup list of the index head for its hash; every
//     dup list is well formed and holds only blocks with that hash.
func (p *Pool) CheckInvariants() error {
	n := p.NumBlocks()
	s := p.free.sentinel
	seen := 0
	prev := s
	for id := p.blocks[s].next; id != s; id = p.blocks[id].next {
		if id < 0 || int(id) >= n {
			return fmt.Errorf("free queue links to %d", id)
		}
		if p.blocks[id].prev != prev {
			return fmt.Errorf("free queue: block %d prev %d, want %d", id, p.blocks[id].prev, prev)
		}
		if p.blocks[id].ref != 0 {
			return fmt.Errorf("block %d in free queue with ref %d", id, p.blocks[id].ref)
		}
		prev = id
		if seen++; seen > n {
			return fmt.Errorf("free queue has a cycle")
		}
	}
	if p.blocks[s].prev != prev {
		return fmt.Errorf("free queue tail mismatch")
	}
	if seen != p.free.n {
		return fmt.Errorf("free queue holds %d blocks, count says %d", seen, p.free.n)
	}
	referenced, cached := 0, 0
	for i := range n {
		b := &p.blocks[i]
		if b.ref < 0 {
			return fmt.Errorf("block %d has ref %d", i, b.ref)
		}
		linked := b.prev != NoBlock
		if linked != (b.ref == 0) || (b.prev == NoBlock) != (b.next == NoBlock) {
			return fmt.Errorf("block %d: ref %d but free-queue links (%d,%d)", i, b.ref, b.prev, b.next)
		}
		if b.ref > 0 {
			referenced++
		}
		if (b.dupPrev == NoBlock) != (b.dupNext == NoBlock) {
			return fmt.Errorf("block %d: half-linked dup list", i)
		}
		if b.cached() {
			cached++
			if _, ok := p.index.head.get(b.hash); !ok {
				return fmt.Errorf("block %d cached under %x but the index lacks the hash", i, b.hash)
			}
		}
	}
	if p.free.n+referenced != n {
		return fmt.Errorf("free %d + referenced %d != %d", p.free.n, referenced, n)
	}
	listed := 0
	var listErr error
	p.index.head.each(func(h uint64, head BlockID) {
		prev := p.blocks[head].dupPrev
		for id := head; listErr == nil; {
			b := &p.blocks[id]
			switch {
			case !b.cached() || b.hash != h:
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
