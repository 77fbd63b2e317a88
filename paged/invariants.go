package paged

import "fmt"

// CheckInvariants verifies every invariant of the manager and its pool and returns the
// first violation. It is O(blocks + tokens) and meant for tests and fuzzers:
//   - the pool's own invariants (ref 0 ⇔ free queue, free + referenced = total,
//     hash ⇔ indexed, well-formed lists);
//   - each block's reference count equals its number of occurrences in live tables;
//   - per sequence: computed ≤ tokens, computed ≤ reserved ≤ table capacity,
//     numCached×bs ≤ computed, chain covers exactly the full blocks of tokens, an
//     unstarted sequence holds nothing;
//   - table[0:numCached] are cached under the sequence's own chain hashes (only full,
//     computed blocks are hashed);
//   - no shared or cached block overlaps a sequence's writable range
//     [computed, reserved): a shared block is never written in place;
//   - no sequence holds more than MaxSeqLen tokens;
//   - the event queue holds at most QueueSize events and QueueTokens token ids, each
//     event's slices are consistent, and nothing is queued while dropping.
func (m *Manager) CheckInvariants() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.pool.CheckInvariants(); err != nil {
		return err
	}
	refs := make([]int, m.pool.NumBlocks())
	var hostRefs []int
	if m.host != nil {
		if err := m.host.CheckInvariants(); err != nil {
			return fmt.Errorf("host tier: %w", err)
		}
		hostRefs = make([]int, m.host.NumBlocks())
	}
	live := 0
	for i := range m.seqs {
		s := &m.seqs[i]
		if !s.live {
			continue
		}
		live++
		bs := m.bs
		switch {
		case len(s.tokens) > MaxSeqLen:
			return fmt.Errorf("seq %d: %d tokens, more than MaxSeqLen", i, len(s.tokens))
		case s.computed < 0 || s.computed > len(s.tokens):
			return fmt.Errorf("seq %d: computed %d of %d tokens", i, s.computed, len(s.tokens))
		case s.reserved < s.computed || s.reserved > len(s.table)*bs:
			return fmt.Errorf("seq %d: reserved %d, computed %d, capacity %d", i, s.reserved, s.computed, len(s.table)*bs)
		case s.numCached*bs > s.computed:
			return fmt.Errorf("seq %d: %d cached blocks but %d computed", i, s.numCached, s.computed)
		case s.chain.Len() != len(s.tokens)/bs:
			return fmt.Errorf("seq %d: chain has %d hashes for %d tokens", i, s.chain.Len(), len(s.tokens))
		case !s.claimed && (len(s.table) != 0 || s.computed != 0):
			return fmt.Errorf("seq %d: unstarted but holds %d blocks", i, len(s.table))
		case !m.caching() && s.numCached != 0:
			return fmt.Errorf("seq %d: caching off but %d blocks cached", i, s.numCached)
		case s.swapped && (m.host == nil || s.reserved != s.computed || s.numCached != 0 || len(s.table) != m.blocksFor(s.computed)):
			return fmt.Errorf("seq %d: swapped with reserved %d computed %d cached %d blocks %d", i, s.reserved, s.computed, s.numCached, len(s.table))
		}
		if s.swapped {
			for _, b := range s.table {
				hostRefs[b]++
			}
			continue
		}
		for j, b := range s.table {
			refs[b]++
			h, cached := m.pool.Hash(b)
			if j < s.numCached && (!cached || h != uint64(s.chain.Hash(j))) {
				return fmt.Errorf("seq %d block %d (id %d): registered but hash %x cached %v, chain %x", i, j, b, h, cached, s.chain.Hash(j))
			}
			lo, hi := j*bs, (j+1)*bs
			if max(lo, s.computed) < min(hi, s.reserved) && (cached || m.pool.RefCount(b) > 1) {
				return fmt.Errorf("seq %d block %d (id %d): writable [%d,%d) but shared (ref %d) or cached (%v)",
					i, j, b, s.computed, s.reserved, m.pool.RefCount(b), cached)
			}
		}
	}
	if err := m.events.check(); err != nil {
		return err
	}
	if live != m.live {
		return fmt.Errorf("live count %d, found %d", m.live, live)
	}
	for b, r := range refs {
		if got := m.pool.RefCount(int32(b)); got != r {
			return fmt.Errorf("block %d: ref count %d, tables hold it %d times", b, got, r)
		}
	}
	for b, r := range hostRefs {
		if got := m.host.RefCount(int32(b)); got != r {
			return fmt.Errorf("host block %d: ref count %d, swapped tables hold it %d times", b, got, r)
		}
	}
	return nil
}
