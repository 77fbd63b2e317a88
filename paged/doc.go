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
// # Events
//
// With Config.Events enabled, registrations, evictions and cache resets are queued
// as vLLM-shaped events (BlockStored, BlockRemoved, AllBlocksCleared) in a bounded
// queue; TakeEvents drains it and reports how many events were dropped when it was
// full. Nothing is called back under the manager's lock.
//
// # Errors and limits
//
// Bad input returns an error wrapping ErrInvalidArgument or ErrUnknownSequence
// (ErrSwapped for device operations on a swapped-out sequence); a reservation the
// pool cannot satisfy returns ErrNoSpace. Counts are range-checked against the
// documented limits (MaxSeqLen, MaxNumBlocks, MaxBlockSize, …) before any
// arithmetic, so no argument can overflow, and New checks the memory it will
// allocate before allocating. Every failing call leaves the manager exactly as it
// was. Panics signal bugs inside the library only.
package paged
