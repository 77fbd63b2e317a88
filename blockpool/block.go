package blockpool

import "github.com/pagedkv/pagedkv/block"

// BlockID identifies a physical block: 0..NumBlocks-1. It is block.ID (an int32), so
// a block table can be handed to package attention ([]int32) without copying.
type BlockID = block.ID

// NoBlock is the "no block" link value.
const NoBlock BlockID = -1

// blockMeta is the metadata of one physical block: exactly 32 bytes.
type blockMeta struct {
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

func (b *blockMeta) cached() bool { return b.dupPrev != NoBlock }
