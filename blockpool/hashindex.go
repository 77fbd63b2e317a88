package blockpool

import "slices"

// BlockRef names a block together with its generation, so a reference goes stale when
// the block's cache identity changes.
type BlockRef struct {
	ID  BlockID
	Gen uint32
}

// Root is the parent reference of a sequence's first block.
var Root = BlockRef{ID: NoBlock}

// Key identifies the content of one full block for caching and lookup.
type Key struct {
	// Hash is the chained content hash (package prefix).
	Hash uint64
	// Parent is the block holding the previous block of the prefix, or Root.
	Parent BlockRef
	// Tokens are the block's token ids; len must equal the pool's BlockSize.
	Tokens []int32
	// Extra is a fingerprint of the block's extra keys (adapter, salt, multimodal).
	Extra uint64
}

// hashIndex maps a hash to the oldest cached block carrying it; blocks with equal
// hashes form a circular list through dupPrev/dupNext in insertion order. Each cached
// block's confirmation data (tokens, parent, extra) lives in side tables.
type hashIndex struct {
	blocks    []blockMeta
	head      hashTable // hash → oldest block carrying it
	blockSize int
	tokens    []int32    // tokens[id*blockSize:(id+1)*blockSize] of cached block id
	parent    []BlockRef // parent[id]
	extra     []uint64   // extra[id]
	count     int        // number of cached blocks
}

func (x *hashIndex) init(blocks []blockMeta, numBlocks, blockSize int) {
	x.blocks = blocks
	x.head = newHashTable(numBlocks)
	x.blockSize = blockSize
	x.tokens = make([]int32, numBlocks*blockSize)
	x.parent = make([]BlockRef, numBlocks)
	x.extra = make([]uint64, numBlocks)
}

// insert caches block id under k; the block must not be cached.
func (x *hashIndex) insert(id BlockID, k *Key) (first bool) {
	b := &x.blocks[id]
	b.hash = k.Hash
	b.gen++
	copy(x.tokens[int(id)*x.blockSize:], k.Tokens)
	x.parent[id] = k.Parent
	x.count++
	x.extra[id] = k.Extra
	h, ok := x.head.get(k.Hash)
	if !ok {
		b.dupPrev, b.dupNext = id, id
		x.head.set(k.Hash, id)
		return true
	}
	hb := &x.blocks[h]
	tail := hb.dupPrev
	b.dupPrev, b.dupNext = tail, h
	x.blocks[tail].dupNext = id
	hb.dupPrev = id
	return false
}

// remove uncaches block id (which must be cached); last reports whether no other block
// carries its hash any more.
func (x *hashIndex) remove(id BlockID) (hash uint64, last bool) {
	b := &x.blocks[id]
	hash = b.hash
	if b.dupNext == id {
		x.head.del(hash)
		last = true
	} else {
		x.blocks[b.dupPrev].dupNext = b.dupNext
		x.blocks[b.dupNext].dupPrev = b.dupPrev
		if h, _ := x.head.get(hash); h == id {
			x.head.set(hash, b.dupNext)
		}
	}
	b.dupPrev, b.dupNext = NoBlock, NoBlock
	b.hash = 0
	b.gen++
	x.count--
	return hash, last
}

// lookup returns the oldest cached block whose hash, tokens, extra fingerprint and
// parent all match k.
func (x *hashIndex) lookup(k *Key) (BlockID, bool) {
	h, ok := x.head.get(k.Hash)
	if !ok {
		return NoBlock, false
	}
	for id := h; ; {
		if x.parent[id] == k.Parent && x.extra[id] == k.Extra &&
			slices.Equal(x.tokens[int(id)*x.blockSize:int(id+1)*x.blockSize], k.Tokens) {
			return id, true
		}
		id = x.blocks[id].dupNext
		if id == h {
			return NoBlock, false
		}
	}
}

// clear uncaches every block.
func (x *hashIndex) clear() {
	x.head.each(func(_ uint64, h BlockID) {
		for id := h; ; {
			next := x.blocks[id].dupNext
			b := &x.blocks[id]
			b.dupPrev, b.dupNext, b.hash = NoBlock, NoBlock, 0
			b.gen++
			if next == h {
				break
			}
			id = next
		}
	})
	x.head.reset()
	x.count = 0
}
