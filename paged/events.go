package paged

import "github.com/pagedkv/pagedkv/prefix"

// EventSink receives prefix-cache events shaped like vLLM's KV events, so an external
// router can index what this cache holds. Events are reported per distinct hash: a
// hash is "stored" when the first block carrying it is registered and "removed" when
// the last block carrying it is evicted, so duplicates are invisible to the router.
// A BlocksStored event never names a parent that was not stored before and is not
// still present.
//
// Methods are called synchronously with the Manager's lock held: they must be quick
// and must not call back into the Manager. Slices in events are only valid during the
// call; copy them to keep them.
type EventSink interface {
	BlocksStored(BlocksStored)
	BlocksRemoved(BlocksRemoved)
	AllBlocksCleared()
}

// BlocksStored reports consecutive blocks of one sequence newly stored in the cache.
type BlocksStored struct {
	// Hashes of the stored blocks, in chain order.
	Hashes []prefix.Hash
	// Parent is the hash of the block before Hashes[0]; valid only if HasParent.
	Parent    prefix.Hash
	HasParent bool
	// Tokens are the token ids of all stored blocks (len = len(Hashes) × BlockSize).
	Tokens    []int32
	BlockSize int
	// Adapter is the LoRA adapter name ("" for none).
	Adapter string
}

// BlocksRemoved reports hashes no longer held by any block.
type BlocksRemoved struct {
	Hashes []prefix.Hash
}
