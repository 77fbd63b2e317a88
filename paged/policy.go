package paged

import "github.com/pagedkv/pagedkv/blockpool"

// ReleasePolicy decides where a block whose last holder let go enters the free queue,
// and so the eviction order of cached blocks (Config.ReleasePolicy). It is
// blockpool.ReleasePolicy, re-exported so a user of this package need not import
// blockpool.
type ReleasePolicy = blockpool.ReleasePolicy

// UnhashedFirst is the default ReleasePolicy: blocks without a hash go to the head of
// the free queue (reused first), cached blocks to the tail (LRU among cache entries).
type UnhashedFirst = blockpool.UnhashedFirst

// AllToTail appends every released block at the tail (plain LRU over all blocks), the
// policy of vLLM V1 before mid-2026.
type AllToTail = blockpool.AllToTail
