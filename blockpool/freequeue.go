package blockpool

import "math/bits"

// freeQueue is a set of intrusive doubly linked lists over the blocks slice, one per
// free list: list 0 is the head zone (blocks the release policy sends to the head),
// list 1+l holds the cached blocks of retention level l (and, for a tail policy, the
// uncached blocks at the default level). blocks[base+l] is list l's root: root.next
// is its head, root.prev its tail. The queue's order — the eviction order — is list
// 0 head to tail, then list 1, and so on; allocation pops its head.
type freeQueue struct {
	blocks   []blockMeta
	base     BlockID // sentinel of list l is base + l
	lists    int
	n        int       // number of linked blocks
	nonEmpty [4]uint64 // bit l set ⇔ list l is not empty
}

func (q *freeQueue) init(blocks []blockMeta, base BlockID, lists int) {
	q.blocks, q.base, q.lists, q.n = blocks, base, lists, 0
	q.nonEmpty = [4]uint64{}
	for l := range lists {
		s := base + BlockID(l)
		blocks[s].prev, blocks[s].next = s, s
	}
}

func (q *freeQueue) sentinel(l int) BlockID { return q.base + BlockID(l) }

// first returns the lowest non-empty list, or -1.
func (q *freeQueue) first() int {
	for w, bitsW := range q.nonEmpty {
		if bitsW != 0 {
			return w*64 + bits.TrailingZeros64(bitsW)
		}
	}
	return -1
}

func (q *freeQueue) head() BlockID {
	l := q.first()
	if l < 0 {
		return NoBlock
	}
	return q.blocks[q.sentinel(l)].next
}

// insertAfter links id into list l after at (a block of list l or its sentinel).
func (q *freeQueue) insertAfter(id, at BlockID, l int) {
	b, a := &q.blocks[id], &q.blocks[at]
	b.prev, b.next = at, a.next
	q.blocks[a.next].prev = id
	a.next = id
	b.list = uint8(l)
	q.nonEmpty[l>>6] |= 1 << (l & 63)
	q.n++
}

func (q *freeQueue) pushTail(id BlockID, l int) {
	q.insertAfter(id, q.blocks[q.sentinel(l)].prev, l)
}

func (q *freeQueue) remove(id BlockID) {
	b := &q.blocks[id]
	prev, next := b.prev, b.next
	q.blocks[prev].next = next
	q.blocks[next].prev = prev
	b.prev, b.next = NoBlock, NoBlock
	q.n--
	if prev == next { // both are the sentinel: the list is empty now
		l := int(b.list)
		q.nonEmpty[l>>6] &^= 1 << (l & 63)
	}
}

// popHead unlinks and returns the head; the caller checks n > 0.
func (q *freeQueue) popHead() BlockID {
	id := q.head()
	q.remove(id)
	return id
}

// each calls f for every free block in queue order.
func (q *freeQueue) each(f func(id BlockID)) {
	for l := range q.lists {
		s := q.sentinel(l)
		for id := q.blocks[s].next; id != s; {
			next := q.blocks[id].next
			f(id)
			id = next
		}
	}
}
