// Package block holds the two types every layer that moves KV blocks agrees on: a
// physical block id and a block copy. It is a leaf package (it imports nothing), so
// the allocator (package blockpool), the manager (package paged) and the KV storage
// (package attention) can share one definition without importing each other.
//
// A block table is a []ID in token order: position p of a sequence lives in block
// table[p/blockSize] at offset p%blockSize, and its slot is
// int64(table[p/blockSize])*blockSize + p%blockSize.
//
// The manager decides, the storage performs: when a sequence must write into a block
// that others still read (copy-on-write), or when a sequence moves between tiers
// (swap), the manager returns a list of Copy values and the engine (or package
// attention) copies the KV contents before it writes the step's new tokens:
//
//	copies, _ := m.DecodeStep(ids, tokens, 0, slots, copies[:0]) // []block.Copy
//	_ = cache.CopyBlocks(copies)                                 // in list order
package block

// ID identifies a physical KV block of one pool (device or host tier): 0..NumBlocks-1.
// It is an int32 so a block table ([]ID) is exactly the []int32 a kernel reads, with
// no conversion. Negative values never name a block.
type ID = int32

// Copy asks the engine to copy the whole KV contents (every layer, K and V) of block
// Src into block Dst. For a swap, Src and Dst belong to different tiers (device →
// host for SwapOut, host → device for SwapIn); otherwise both are device blocks.
type Copy struct {
	Src, Dst ID
}
