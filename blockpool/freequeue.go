package blockpool

// freeQueue is an intrusive doubly linked list over the blocks slice. blocks[sentinel]
// is the list root: root.next is the head, root.prev the tail.
type freeQueue struct {
	blocks   []blockMeta
	sentinel BlockID
	n        int // number of linked blocks
}

func (q *freeQueue) init(blocks []blockMeta) {
	q.blocks = blocks
	q.sentinel = BlockID(len(blocks) - 1)
	r := &blocks[q.sentinel]
	r.prev, r.next = q.sentinel, q.sentinel
	q.n = 0
}

func (q *freeQueue) head() BlockID {
	if q.n == 0 {
		return NoBlock
	}
	return q.blocks[q.sentinel].next
}

// insertAfter links id after at (at may be the sentinel).
func (q *freeQueue) insertAfter(id, at BlockID) {
	b, a := &q.blocks[id], &q.blocks[at]
	b.prev, b.next = at, a.next
	q.blocks[a.next].prev = id
	a.next = id
	q.n++
}

func (q *freeQueue) pushTail(id BlockID) { q.insertAfter(id, q.blocks[q.sentinel].prev) }

func (q *freeQueue) remove(id BlockID) {
	b := &q.blocks[id]
	q.blocks[b.prev].next = b.next
	q.blocks[b.next].prev = b.prev
	b.prev, b.next = NoBlock, NoBlock
	q.n--
}

// popHead unlinks and returns the head; the caller checks n > 0.
func (q *freeQueue) popHead() BlockID {
	id := q.blocks[q.sentinel].next
	q.remove(id)
	return id
}
