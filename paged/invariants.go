package paged

import (
	"fmt"
	"slices"
)

// CheckInvariants verifies every invariant of the manager and its pools and returns
// the first violation. It is O(blocks + tokens) and meant for tests and fuzzers:
//   - both pools' own invariants (ref 0 ⇔ free lists, free + referenced = total,
//     hash ⇔ indexed, well-formed lists, retention levels ordered and not expired);
//   - each device block's reference count equals its occurrences in live tables
//     plus the live pins holding it; each host block's equals its occurrences in
//     swapped tables: a block is owned in one tier only, and a host block owned by a
//     swapped sequence is never cached (cached host blocks are free copies);
//   - per sequence: computed ≤ tokens, computed ≤ reserved ≤ table capacity,
//     numCached×bs ≤ computed (≤ tokens with RegisterAtReserve), chain covers
//     exactly the full blocks of tokens, an unstarted sequence holds nothing;
//   - table[0:numCached] are cached under the sequence's own chain hashes, each
//     under the identity of the block before it (the chain a lookup walks);
//   - no shared or cached block overlaps a sequence's writable range
//     [computed, reserved), except blocks it registered ahead (RegisterAtReserve);
//   - host copies are true: a host block and a device block cached with the same
//     identity carry the same hash, parent, tokens and extra keys; without a host
//     cache the host tier caches nothing;
//   - the write-through queue holds each queued device block once under its
//     current identity;
//   - pins: each live pin's blocks are still cached with the identities they had
//     when pinned (never evicted), the per-block pin counts match, and the pinned
//     blocks stay within MaxPinnedFraction;
//   - KV-cache groups (invariants_groups.go): every group's table has the same
//     length; a windowed group's table holds NullBlock exactly in its first
//     skipBlocks(relAt) entries, relAt ≤ computed the computed count of the last
//     release (window release exact), and blocks elsewhere, a full-attention
//     group's none — so no NullBlock lies in the range the next token reads or in
//     the writable range; nextRel is the next release point; registered blocks are cached in their group under
//     the chain's hashes (identities for full attention, prefix fingerprints for
//     windows, which are kept exactly for every full block);
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
		if err := m.checkSeq(i, s, refs, hostRefs); err != nil {
			return err
		}
	}
	if err := m.events.check(); err != nil {
		return err
	}
	if live != m.live {
		return fmt.Errorf("live count %d, found %d", m.live, live)
	}
	if err := m.checkPins(refs); err != nil {
		return err
	}
	for b, r := range refs {
		if got := m.pool.RefCount(int32(b)); got != r {
			return fmt.Errorf("block %d: ref count %d, tables and pins hold it %d times", b, got, r)
		}
	}
	for b, r := range hostRefs {
		if got := m.host.RefCount(int32(b)); got != r {
			return fmt.Errorf("host block %d: ref count %d, swapped tables hold it %d times", b, got, r)
		}
		if _, cached := m.host.Hash(int32(b)); cached && r > 0 {
			return fmt.Errorf("host block %d is owned by a swapped sequence and cached", b)
		}
	}
	return m.checkTiers()
}

// checkSeq checks one live sequence and counts its blocks into refs / hostRefs.
func (m *Manager) checkSeq(i int, s *sequence, refs, hostRefs []int) error {
	bs := m.bs
	cachedLimit := s.computed
	if m.cfg.RegisterAtReserve {
		cachedLimit = len(s.tokens)
	}
	switch {
	case len(s.tokens) > MaxSeqLen:
		return fmt.Errorf("seq %d: %d tokens, more than MaxSeqLen", i, len(s.tokens))
	case s.computed < 0 || s.computed > len(s.tokens):
		return fmt.Errorf("seq %d: computed %d of %d tokens", i, s.computed, len(s.tokens))
	case s.reserved < s.computed || s.reserved > len(s.table)*bs:
		return fmt.Errorf("seq %d: reserved %d, computed %d, capacity %d", i, s.reserved, s.computed, len(s.table)*bs)
	case s.numCached*bs > cachedLimit || s.numCached > len(s.table):
		return fmt.Errorf("seq %d: %d cached blocks but %d computed, %d tokens", i, s.numCached, s.computed, len(s.tokens))
	case s.chain.Len() != len(s.tokens)/bs:
		return fmt.Errorf("seq %d: chain has %d hashes for %d tokens", i, s.chain.Len(), len(s.tokens))
	case !s.claimed && (len(s.table) != 0 || s.computed != 0):
		return fmt.Errorf("seq %d: unstarted but holds %d blocks", i, len(s.table))
	case !m.caching() && s.numCached != 0:
		return fmt.Errorf("seq %d: caching off but %d blocks cached", i, s.numCached)
	case s.swapped && (m.host == nil || s.reserved != s.computed || s.numCached != 0 || len(s.table) != m.blocksFor(s.computed)):
		return fmt.Errorf("seq %d: swapped with reserved %d computed %d cached %d blocks %d", i, s.reserved, s.computed, s.numCached, len(s.table))
	case s.priority < MinPriority || s.priority > MaxPriority || s.priorityDur < 0:
		return fmt.Errorf("seq %d: priority %d duration %d", i, s.priority, s.priorityDur)
	}
	if s.swapped {
		for _, b := range s.table {
			hostRefs[b]++
		}
		return nil
	}
	if m.hybrid {
		return m.checkGroups(i, s, refs)
	}
	for j, b := range s.table {
		refs[b]++
		k, ident, cached := m.pool.CachedKey(b)
		if j < s.numCached {
			var parent uint64
			if j > 0 {
				parent = m.pool.Identity(s.table[j-1])
			}
			if !cached || k.Hash != uint64(s.chain.Hash(j)) || k.Parent != parent || ident == 0 {
				return fmt.Errorf("seq %d block %d (id %d): registered but hash %x cached %v parent %d, chain %x parent %d",
					i, j, b, k.Hash, cached, k.Parent, s.chain.Hash(j), parent)
			}
		}
		lo, hi := j*bs, (j+1)*bs
		if max(lo, s.computed) < min(hi, s.reserved) && j >= s.numCached && (cached || m.pool.RefCount(b) > 1) {
			return fmt.Errorf("seq %d block %d (id %d): writable [%d,%d) but shared (ref %d) or cached (%v)",
				i, j, b, s.computed, s.reserved, m.pool.RefCount(b), cached)
		}
	}
	return nil
}

// checkTiers checks the host copies against the device blocks of the same identity,
// and the write-through queue.
func (m *Manager) checkTiers() error {
	if m.host == nil {
		return nil
	}
	t := &m.tier
	if !t.on {
		if m.host.NumCached() != 0 || len(t.wt) != 0 {
			return fmt.Errorf("no host cache, but %d host blocks cached and %d queued", m.host.NumCached(), len(t.wt))
		}
		return nil
	}
	byIdent := map[uint64]int32{}
	for b := range int32(m.pool.NumBlocks()) {
		if ident := m.pool.Identity(b); ident != 0 {
			byIdent[ident] = b
		}
	}
	for h := range int32(m.host.NumBlocks()) {
		hk, ident, ok := m.host.CachedKey(h)
		if !ok {
			continue
		}
		d, ok := byIdent[ident]
		if !ok {
			continue
		}
		dk, _, _ := m.pool.CachedKey(d)
		if hk.Hash != dk.Hash || hk.Parent != dk.Parent || hk.Extra != dk.Extra || !slices.Equal(hk.Tokens, dk.Tokens) {
			return fmt.Errorf("host block %d and device block %d share identity %d but not their key", h, d, ident)
		}
	}
	queued := map[int32]bool{}
	for _, q := range t.wt {
		if m.pool.Identity(q.id) != q.ident {
			continue // stale: evicted since
		}
		if queued[q.id] || !t.dev[q.id].queued {
			return fmt.Errorf("write-through queue: block %d listed twice or not marked", q.id)
		}
		queued[q.id] = true
	}
	for b := range t.dev {
		if t.dev[b].queued && !queued[int32(b)] {
			return fmt.Errorf("device block %d marked queued but not in the write-through queue", b)
		}
	}
	return nil
}

// checkPins verifies the pins and counts their holds into refs.
func (m *Manager) checkPins(refs []int) error {
	ps := &m.pins
	count := map[int32]int32{}
	live := 0
	for i := range ps.pins {
		p := &ps.pins[i]
		if !p.live {
			continue
		}
		live++
		for j, b := range p.blocks {
			if m.pool.Identity(b) != p.idents[j] {
				return fmt.Errorf("pin %d: block %d (identity %d) was evicted or re-cached (identity %d)", i, b, p.idents[j], m.pool.Identity(b))
			}
			refs[b]++
			count[b]++
		}
	}
	if live != ps.live {
		return fmt.Errorf("pins: %d live, count says %d", live, ps.live)
	}
	for b, c := range ps.count {
		if count[int32(b)] != c {
			return fmt.Errorf("pins: block %d pinned %d times, count says %d", b, count[int32(b)], c)
		}
	}
	if len(count) != ps.distinct || ps.distinct > m.maxPinned() {
		return fmt.Errorf("pins: %d distinct blocks, count says %d, limit %d", len(count), ps.distinct, m.maxPinned())
	}
	return nil
}
