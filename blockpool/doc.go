// Package blockpool manages the physical KV-cache blocks of one device: their
// reference counts, the free queue (which is also the eviction order), and the
// content-hash index of cached blocks. It is the mechanism under package paged and
// knows nothing about sequences.
//
// # Blocks
//
// A Pool has NumBlocks blocks with ids 0..NumBlocks-1 (BlockID, which is block.ID). Each has a reference count (the
// number of block-table entries that hold it) and, optionally, a content hash (the
// block is "cached": its full contents can be reused by any sequence whose prefix
// hashes to the same value).
//
// # The free queue is the eviction order
//
// Blocks with reference count 0 sit in one intrusive doubly linked list over block ids
// (no allocation, O(1) everywhere). Allocate pops from the head, so the head is the
// next block to be reused and, if it is cached, the next cache entry to be evicted. A
// free block keeps its hash (lazy eviction) until it is popped; a prefix hit on a free
// cached block unlinks it from the middle of the queue (Retain).
//
// Where a released block enters the queue is a ReleasePolicy. The default,
// UnhashedFirst, puts blocks without a hash at the head (they hold nothing worth
// keeping, so they are reused first) and cached blocks at the tail (least recently
// released is evicted first). AllToTail appends everything (vLLM V1 until mid-2026).
// Release takes blocks in eviction-priority order; ReleaseTable releases a block table
// tail-first, so the end of a prefix chain is evicted before its beginning.
//
// # Retention levels
//
// With Config.Levels > 1 the free queue is one list per retention level: every free
// block of a lower level is evicted before any block of a higher level, and within a
// level the least recently released first. ReleaseWith asks a Retention (a level and
// an expiry on the pool's logical clock) for the cached blocks it releases; a block
// keeps the highest unexpired level asked for it (the max rule), and SetTime moves
// free blocks whose level expired back to DefaultLevel. Uncached blocks carry no
// level. With one level (the default) this is the plain queue above.
//
// # Confirmed hits and identities
//
// The index maps a hash to every cached block carrying it (several blocks may carry
// the same hash, since block ids already handed to an engine never change; Lookup
// returns the oldest). Each cached block also stores its token ids, a fingerprint of
// its extra keys, its identity, its parent's identity and its KV-cache group
// (Key.Group: a hybrid model caches the same tokens once per group of layers).
// Lookup returns a block only if all of them match, so a hash collision costs a miss, never a read of another
// prompt's KV. The caller chooses identities (Cache): a fresh one for content
// computed anew, the source's for a copy, so a chain of blocks stays reachable while
// its blocks move between pools (a device and a host tier) and is cut when a block
// is evicted without a copy.
//
// With Config.IndexChildren the pool also finds, for a parent identity, the cached
// block whose leading tokens match the longest prefix of given tokens (Partial): the
// part of a block a new prompt can reuse when it diverges inside the block.
//
// # Example
//
//	p, _ := blockpool.New(blockpool.Config{NumBlocks: 4, BlockSize: 2})
//	ids, _ := p.Allocate(nil, 2)               // [0 1]; free queue 2 3
//	p.Cache(ids[0], key0, 1)                   // block 0 now findable by key0 (identity 1)
//	p.ReleaseTable(ids)                        // 1 (unhashed) to the head, 0 to the tail: 1 2 3 0
//	id, ok := p.Lookup(key0)                   // 0, true: still cached while free
//	p.Retain(id)                               // revived: free queue 1 2 3
//
// # Configuration and limits
//
// Config{NumBlocks: n} is complete: a zero BlockSize means 16, a nil Policy
// UnhashedFirst. BlockSize is at most MaxBlockSize (2^16), NumBlocks at most
// MaxNumBlocks (2^24, ids are block.ID = int32), and New computes the metadata it
// will allocate (MetadataBytes) and refuses more than MaxMetadataBytes before
// allocating anything. Every method that returns an error leaves the pool unchanged;
// out-of-range ids are errors (or a zero answer for the read-only views), never
// panics.
//
// A Pool is not safe for concurrent use; package paged adds the lock.
package blockpool
