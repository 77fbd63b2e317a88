package blockpool

// BlockID identifies a physical block: 0..NumBlocks-1. It is an alias of int32 so a
// block table can be handed to package attention ([]int32) without copying.
type BlockID = int32

// NoBlock is the "no block" link value.
const NoBlock BlockID = -1

// block is the metadata of one physical block: exactly 32 bytes.
type block struct {
	// ref is the number of holders. ref == 0 ⇔ the block is linked in the free queue.
	ref int32
	// prev, next link the free queue (the sentinel is id NumBlocks). Both are NoBlock
	// ⇔ the block is not in the free queue ⇔ ref > 0.
	prev, next BlockID
	// dupPrev, dupNext link the circular list of cached blocks that share hash. Both
	// are NoBlock ⇔ the block is not cached ⇔ the index does not reference it.
	dupPrev, dupNext BlockID
	// gen counts how many times the block's cache identity changed (hash set or
	// cleared), so a child's reference to its parent (id, gen) goes stale when the
	// parent is evicted and reused.
	gen uint32
	// hash is the content hash; meaningful only while cached.
	hash uint64
}

func (b *block) cached() bool { return b.dupPrev != NoBlock }

// freeQueue is an intrusive doubly linked list over the blocks slice. blocks[sentinel]
// is the list root: root.next is the head, root.prev the tail.
type freeQueue struct {
	blocks   []block
	sentinel BlockID
	n        int // number of linked blocks
}

func (q *freeQueue) init(blocks []block) {
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
