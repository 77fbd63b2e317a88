// Package paged is the KV-cache manager a serving engine's scheduler talks to, in the
// manner of vLLM's PagedAttention: each sequence has a block table mapping its token
// positions to fixed-size physical blocks; full blocks with equal prefixes are shared
// through chained hashes (package prefix) and a hit-confirming index (package
// blockpool); forks share everything and copy on write.
//
// # The life of a sequence
//
//	id, _ := m.Add(prompt, paged.SeqOptions{})     // hashes the prompt's full blocks
//	n, _ := m.CachedPrefix(id)                      // side-effect free: tokens cached now
//	res, _ := m.Reserve(id, len(prompt)-n, 0, nil)  // claims the hits, reserves slots
//	slots, _ := m.SlotMapping(id, res.Start, len(prompt), nil)
//	// engine: perform res.Copies, write K/V into slots, run attention over BlockTable
//	m.MarkComputed(id, len(prompt)-res.Start)       // full blocks become shareable now
//	m.Append(id, sampled)                           // then per decode step:
//	m.DecodeStep(ids, sampledTokens, 0, slots, nil) //   append + reserve + slot, batched
//	m.MarkComputedBatch(ids, 1)
//	m.Free(id)                                      // tail first; cached blocks linger
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
// lookup or first reservation can hit it. (vLLM registers at scheduling time instead;
// registering at commit means a hit never points at KV that is not written yet.) A
// partial last block is never registered.
//
// # Copy on write
//
// Reserve never lets a sequence write into a block that another sequence references
// or that is cached: it moves the writer to a fresh block and, if the old block held
// computed tokens, returns a (Src, Dst) BlockCopy for the engine. Full shared blocks
// are never written, so never copied.
//
// # Errors
//
// Bad input returns an error wrapping ErrInvalidArgument or ErrUnknownSequence; a
// reservation the pool cannot satisfy returns ErrNoSpace. Every failing call leaves
// the manager exactly as it was. Panics signal bugs inside the library only.
package paged
