package paged

import (
	"slices"

	"github.com/pagedkv/pagedkv/prefix"
)

// Lookups with hashes computed once elsewhere, and the prefix cache as a list of
// hashes. These serve a router that models many engines: it hashes a prompt once
// and asks every engine's Manager (LookupChain), and it rebuilds its view of an
// engine whose events were dropped (ResetEvents).

// HashScheme returns the scheme the manager hashes blocks with (immutable and safe to
// share). Chains made from it, or from any scheme with the same block size, hasher
// and seed, can be passed to LookupChain.
func (m *Manager) HashScheme() *prefix.Scheme { return m.scheme }

// LookupChain is LookupPrompt for a prompt whose block hashes are already in chain c
// (built from prompt by a scheme equal to HashScheme(), with the prompt's extra
// keys): it reports how many leading tokens of prompt are cached, walking c's hashes
// instead of hashing the prompt again. Hits are confirmed against the cached blocks'
// tokens as usual, so a chain from another scheme finds nothing rather than wrong
// blocks. Blocks of prompt beyond c.Len() are not looked up: hash at least
// (len(prompt)−1)/BlockSize blocks for a full answer. It has no side effects and
// allocates nothing in steady state; c is only read. A nil chain or a prompt longer
// than MaxSeqLen gives ErrInvalidArgument.
func (m *Manager) LookupChain(c *prefix.Chain, prompt []int32) (int, error) {
	if c == nil {
		return 0, errf(ErrInvalidArgument, "nil chain")
	}
	if len(prompt) > MaxSeqLen {
		return 0, errf(ErrInvalidArgument, "prompt of %d tokens, more than MaxSeqLen", len(prompt))
	}
	if len(prompt) == 0 {
		return 0, nil
	}
	n := min(m.maxHitBlocks(len(prompt)), m.cfg.NumBlocks, c.Len())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hitBuf = m.findHits(m.hitBuf[:0], c, prompt, n)
	return len(m.hitBuf) * m.bs, nil
}

// ResetEvents restarts the event stream from a snapshot. In one step under the
// manager's lock it discards the queued events and the count of dropped ones, and
// appends to dst the hash of every block in the device prefix cache, one per cached
// block (one per distinct hash with EventOptions.PerDistinctHash), in no particular
// order. A consumer that forgets what it knew of this engine and records these
// hashes as stored (medium GPU) holds exactly what the event stream would have told
// it; the events TakeEvents returns next continue from there. Use it when TakeEvents
// reported dropped events. It visits every block: O(NumBlocks).
func (m *Manager) ResetEvents(dst []prefix.Hash) []prefix.Hash {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events.discard() // the snapshot includes their effect
	start := len(dst)
	if m.caching() {
		for id := range int32(m.pool.NumBlocks()) {
			if h, ok := m.pool.Hash(id); ok {
				dst = append(dst, prefix.Hash(h))
			}
		}
	}
	if m.events.distinct {
		slices.Sort(dst[start:])
		dst = append(dst[:start], slices.Compact(dst[start:])...)
	}
	return dst
}

// discard empties the queue and the dropped count without touching the arrays the
// last TakeEvents handed out (they live in spare).
func (q *eventQueue) discard() {
	q.cur.events, q.cur.hashes, q.cur.tokens = q.cur.events[:0], q.cur.hashes[:0], q.cur.tokens[:0]
	q.dropped = 0
}
