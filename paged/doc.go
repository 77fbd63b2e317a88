// Package paged is the KV-cache manager a serving engine's scheduler talks to, in the
// manner of vLLM's PagedAttention: each sequence has a block table mapping its token
// positions to fixed-size physical blocks; full blocks with equal prefixes are shared
// through chained hashes (package prefix) and a hit-confirming index (package
// blockpool); forks share everything and copy on write.
//
// # The life of a sequence
//
// The package Example runs exactly these steps:
//
//	m, _ := paged.New(paged.Config{NumBlocks: 1024})    // zero fields: the defaults
//	id, _ := m.Add(prompt, paged.SeqOptions{})           // hashes the prompt's full blocks
//	adm, _ := m.Admit(id, len(prompt), 0, nil)           // one lookup: hit, watermark, claim, reserve
//	// adm.Admission: AdmitNow (reserved), AdmitLater (retry), AdmitNever (reject)
//	slots, _ := m.SlotMapping(id, adm.Start, adm.Start+adm.N, nil)
//	// engine: perform adm.Copies, write K/V into slots, run attention over BlockTable
//	_ = m.MarkComputed(id, adm.N)                        // full blocks become shareable now
//	// each decode step, for the whole batch under one lock:
//	copies, _ = m.DecodeStep(ids, sampled, 0, slots, copies[:0]) // append, reserve, slot
//	tables, _ = m.BlockTables(ids, tables)
//	// engine: perform copies, write K/V, run attention
//	_ = m.MarkComputedBatch(ids, 1)
//	events, lost = m.TakeEvents(events[:0])              // a KV-event publisher drains these
//	_ = m.Free(id)                                       // tail first; cached blocks linger
//
// DecodeStep appends the token sampled in the previous step itself: do not Append it
// as well. Append is for tokens accepted outside a decode step (verified speculative
// drafts), Rollback for drafts rejected after they were appended.
//
// # Positions and counters
//
// A sequence has tokens (prompt plus accepted output; never unverified drafts),
// computed ≤ tokens (positions whose KV is in the cache), and reserved ≥ computed
// (positions with slots). Reserve(n, lookahead) makes positions [computed,
// computed+n+lookahead) writable; MarkComputed(n) advances computed within them.
//
// # When blocks become shareable
//
// A block is registered in the prefix cache when MarkComputed makes all of its tokens
// computed — after the engine has written them — and from then on any sequence's
// lookup or admission can hit it. (vLLM registers at scheduling time instead;
// registering at commit means a hit never points at KV that is not written yet.) A
// partial last block is never registered.
//
// # Copy on write
//
// Reserve never lets a sequence write into a block that another sequence references
// or that is cached: it moves the writer to a fresh block and, if the old block held
// computed tokens, returns a (Src, Dst) BlockCopy for the engine. Full shared blocks
// are never written, so never copied. BlockCopy is block.Copy, the type package
// attention takes.
//
// # Copy lists and their order
//
// Every call that may allocate device blocks (Admit, Reserve, DecodeStep, SwapIn,
// SwapOut) appends the KV copies the engine must perform to the caller's slice and
// returns it. Each BlockCopy names its tiers (Dir: DeviceToDevice, DeviceToHost,
// HostToDevice). Perform a list in list order, and the lists of successive calls in
// call order, before the step's attention reads any block table; equivalently (the
// manager guarantees it for every list) all DeviceToHost copies of a list, then its
// HostToDevice copies, then its DeviceToDevice copies. A copy that reads a block
// always precedes, in the same list, any copy that writes it: the offload of an
// evicted block comes from the allocation that evicts it, before the copy that
// fills the block again.
//
// # Host prefix cache
//
// With Config.HostCache the host tier (Config.HostBlocks) caches prefix blocks as
// well as holding swapped-out sequences. Write-back copies a cached device block to a
// host block when an allocation evicts it (the free queue is still the eviction
// order: the copy is lazy); write-through copies it when it is registered (or, with
// MinHits, once hit that often) in the next call that returns a copy list. Host
// blocks keep their hash and are evicted LRU, and swapping has priority over them.
// Lookups walk both tiers block by block (CachedPrefixTiers, LookupPromptTiers
// report the split), and an admission onloads host hits into fresh device blocks.
// Events carry the medium: MediumGPU for the device cache, MediumCPU for the host
// cache.
//
// # Retention priorities and pins
//
// SeqOptions.Priority ranks the cached blocks a sequence releases: free blocks of a
// lower priority are evicted before any of a higher one, LRU within a priority, and
// a block keeps the highest priority asked for it until PriorityDuration ticks of the
// logical clock (SetClock) pass. Pin holds a cached prefix on the device until
// Unpin, within Config.MaxPinnedFraction of the pool. The release policy
// (Config.ReleasePolicy) still decides where uncached blocks go.
//
// # Closer to vLLM, and partial blocks (all off by default)
//
// RegisterAtReserve registers blocks when they are reserved, as vLLM V1 does;
// MatchDuplicateParents follows duplicate chains as vLLM's hash-only lookup does;
// DropLastHitBlock recomputes the last reused block for EAGLE/MTP drafters; CanSwapIn
// is vLLM V0's can_swap_in. PartialBlockReuse reuses the matching leading tokens of
// a block a prompt diverges in, through a copy (TensorRT-LLM's partial reuse). Each
// Config field documents its trade-off.
//
// # Hybrid models: KV-cache groups
//
// Config.Groups lists the KV-cache groups of a model whose layers mix attention
// kinds (vLLM's hybrid allocator): FullAttention, SlidingWindow with window W,
// ChunkedLocal with chunk C. Every sequence gets one block table per group, all
// drawing from the one pool; group 0's table is what BlockTable, BlockTables,
// SlotMapping and DecodeStep's slots refer to, and BlockTableGroup,
// BlockTablesGroup, SlotMappingGroup and DecodeSlotsGroup address any group (the
// Example_groups example). All groups share BlockSize, so a position, a hit or a
// reservation means the same tokens in every group; bytes are reconciled by sizing
// a block for the largest group (Config.BlockBytes, see groups.go).
//
// A windowed group releases, at each reservation (Reserve, DecodeStep: vLLM's
// scheduling step), the blocks wholly before the window (or chunk) of the next
// token to compute, and puts NullBlock in their table entries: entry j <
// skip(computed)/BlockSize is NullBlock, exactly, after every reservation. The
// freed blocks serve that reservation, the step's attention never reads them, and
// rolling back the step's tokens never needs them. They keep their hash until
// evicted. A prefix hit is the longest length
// valid for every group: all blocks before it for full attention, the last
// ceil((W−1)/BlockSize) blocks for a window W, the blocks of the current chunk for
// chunked attention (vLLM's fixed point, lookup_hybrid.go); windowed groups confirm
// hits by a fingerprint of the whole prefix, since the blocks before the window may
// be gone. Admission counts at most the blocks a window and the first chunk span
// for a windowed group. Events carry the group (Event.Group).
//
// Fork, copy-on-write, Rollback (refused, ErrInvalidArgument, when it would need a
// released block), events, ResyncEvents, priorities and MatchDuplicateParents work
// per group; HostBlocks (swapping and the host prefix cache), PartialBlockReuse,
// RegisterAtReserve and DropLastHitBlock are refused with groups (ErrInvalidConfig)
// and so is Pin. One full-attention group is the plain model.
//
// # Events
//
// With Config.Events enabled, registrations, evictions and cache resets are queued
// as vLLM-shaped events (BlockStored, BlockRemoved, AllBlocksCleared) in a bounded
// queue; TakeEvents drains it and reports how many events were dropped when it was
// full. Nothing is called back under the manager's lock.
//
// # Errors and limits
//
// Bad input returns an error wrapping ErrInvalidArgument, ErrUnknownSequence or
// ErrUnknownPin (ErrSwapped for device operations on a swapped-out sequence); a
// reservation the pool cannot satisfy returns ErrNoSpace, a pin beyond the limit
// ErrPinLimit. Counts are range-checked against the
// documented limits (MaxSeqLen, MaxNumBlocks, MaxBlockSize, …) before any
// arithmetic, so no argument can overflow, and New checks the memory it will
// allocate before allocating. Every failing call leaves the manager exactly as it
// was. Panics signal bugs inside the library only.
package paged
