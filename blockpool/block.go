package blockpool

import "github.com/pagedkv/pagedkv/block"

// BlockID identifies a physical block: 0..NumBlocks-1. It is block.ID (an int32), so
// a block table can be handed to package attention ([]int32) without copying.
type BlockID = block.ID

// NoBlock is the "no block" link value.
const NoBlock BlockID = -1

// blockMeta is the metadata of one physical block: exactly 64 bytes, one cache line
// (the records' array is line-aligned once it is large), so the free queue, the
// index and a hit's confirmation touch one line of a block's metadata, not two.
type blockMeta struct {
	// ref is the number of holders. ref == 0 ⇔ the block is linked in a free list.
	ref int32
	// prev, next link the block's free list (the lists' sentinels are ids NumBlocks
	// and up). Both are NoBlock ⇔ the block is in no free list ⇔ ref > 0.
	prev, next BlockID
	// dupPrev, dupNext link the circular list of cached blocks that share hash. Both
	// are NoBlock ⇔ the block is not cached ⇔ the index does not reference it.
	dupPrev, dupNext BlockID
	// list is the free list the block is linked in while free: 0 is the head zone,
	// 1+l the list of retention level l. Meaningless while ref > 0.
	list uint8
	// level is the retention level kept for the block (0..Levels-1) by the max rule
	// (see Retention), or levelNone: none kept (always for an uncached block).
	level uint8
	_     [2]byte
	// hash is the content hash; meaningful only while cached.
	hash uint64
	// What a cached block is confirmed by besides its tokens (Key.Parent, Key.Extra,
	// Key.Group) and its identity (see Pool.Cache), meaningful only while cached.
	// Invariant: ident != 0 ⇔ the block is cached.
	parent uint64 // parent identity
	extra  uint64 // extra-key fingerprint
	ident  uint64 // identity
	group  uint32 // KV-cache group
	_      uint32
}

func (b *blockMeta) cached() bool { return b.dupPrev != NoBlock }
