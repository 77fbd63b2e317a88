package paged

import (
	"github.com/pagedkv/pagedkv/block"
	"github.com/pagedkv/pagedkv/blockpool"
)

// BlockCopy asks the engine to copy the KV contents of block Src into block Dst
// before it writes this step's new tokens (copy-on-write, or a swap between tiers).
// It is block.Copy, the type package attention consumes, so copy lists pass through
// without conversion. Perform a list's copies in order.
type BlockCopy = block.Copy

// Reservation is the result of Reserve (and part of Admit's).
type Reservation struct {
	// Claimed is the number of prompt tokens this call took from the prefix cache
	// (first reservation only; 0 afterwards). They count as computed.
	Claimed int
	// Start is the first position to compute: the new tokens occupy [Start, Start+N)
	// and the lookahead slots follow them.
	Start int
	// N is the number of new tokens reserved.
	N int
	// Copies are the copy-on-write copies the engine must perform before writing,
	// appended to the slice the caller passed in.
	Copies []BlockCopy
}

// Reserve reserves slots for the next n tokens of a sequence (positions starting at
// its computed count) plus lookahead extra slots (speculative draft tokens whose ids
// the manager does not know). Typical calls: a prefill chunk (n = chunk), a decode
// step (n = 1), a decode step with k speculative tokens (n = 1, lookahead = k).
// n must be in [0, tokens − computed] and lookahead in [0, MaxSeqLen], not both 0.
//
// The first Reserve of a sequence claims its cached prefix: whole cached blocks, at
// most (len(tokens) − n) tokens and never the last token, become computed, and the
// n tokens follow them. The claimed count is in the result. (Admit does the same
// with the watermark check, choosing n from the hit.)
//
// A reserved slot that falls into a block another sequence also references, or that
// is cached, moves this sequence to a fresh block; if the old block held computed
// tokens of this sequence, a (Src, Dst) copy is appended to copies for the engine.
// Full shared blocks are never copied.
//
// All or nothing: if the pool lacks the blocks (fresh blocks plus cached free blocks
// the claim would revive), Reserve returns ErrNoSpace and changes nothing.
func (m *Manager) Reserve(id SeqID, n, lookahead int, copies []BlockCopy) (Reservation, error) {
	fail := Reservation{Copies: copies}
	if err := checkLookahead(lookahead); err != nil {
		return fail, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return fail, err
	}
	if n < 0 || n > len(s.tokens)-s.computed || n+lookahead == 0 {
		return fail, errf(ErrInvalidArgument, "reserve n=%d lookahead=%d at position %d of a %d-token sequence",
			n, lookahead, s.computed, len(s.tokens))
	}
	hits := m.hitBuf[:0]
	revived := 0
	if !s.claimed {
		hits = m.findHits(hits, &s.chain, s.tokens, min(m.maxHitBlocks(len(s.tokens)), (len(s.tokens)-n)/m.bs))
		m.hitBuf = hits
		for _, b := range hits {
			if m.pool.RefCount(b) == 0 {
				revived++
			}
		}
	}
	start := max(s.computed, len(hits)*m.bs)
	target := start + n + lookahead
	if need := revived + m.planReserve(s, len(hits), start, target); need > m.pool.NumFree() {
		return fail, errf(ErrNoSpace, "sequence %d needs %d blocks, %d free", id, need, m.pool.NumFree())
	}
	res := Reservation{Start: start, N: n}
	if !s.claimed {
		m.claim(s, hits)
		res.Claimed = start
	}
	res.Copies = m.applyReserve(s, target, copies)
	return res, nil
}

// claim starts an unstarted sequence on its prefix hits: it retains them, makes them
// the head of its table and counts them as computed and cached, and records the
// prefix-cache query. The caller has checked that reviving them fits.
func (m *Manager) claim(s *sequence, hits []blockpool.BlockID) {
	for _, b := range hits {
		_ = m.pool.Retain(b) // cannot fail: hits are in range
	}
	s.table = append(s.table, hits...)
	s.computed, s.numCached, s.claimed = len(hits)*m.bs, len(hits), true
	if m.caching() {
		m.stats.record(len(s.tokens), s.computed)
	}
}

// planReserve returns how many fresh blocks reserving positions [start, target)
// needs: blocks beyond the table (whose first claimedBlocks entries are about to be
// hits) and copy-on-write replacements of shared or cached blocks in the range.
func (m *Manager) planReserve(s *sequence, claimedBlocks, start, target int) int {
	have := len(s.table) + claimedBlocks
	need := max(0, m.blocksFor(target)-have)
	for j := m.div(start); j < min(len(s.table), m.blocksFor(target)); j++ {
		if !m.pool.Writable(s.table[j]) {
			need++
		}
	}
	return need
}

// applyReserve makes positions [computed, target) writable; the caller has checked
// that planReserve's blocks are free.
func (m *Manager) applyReserve(s *sequence, target int, copies []BlockCopy) []BlockCopy {
	end := m.blocksFor(target)
	for j := m.div(s.computed); j < min(len(s.table), end); j++ {
		old := s.table[j]
		if m.pool.Writable(old) {
			continue
		}
		got, err := m.pool.Allocate(m.oneBlock[:0], 1)
		if err != nil {
			panic("paged: planned allocation failed: " + err.Error())
		}
		fresh := got[0]
		if j*m.bs < s.computed { // the block holds computed tokens: copy them
			copies = append(copies, BlockCopy{Src: old, Dst: fresh})
			m.stats.cows++
		}
		m.oneBlock[0] = old
		_ = m.pool.Release(m.oneBlock[:1])
		s.table[j] = fresh
	}
	if grow := end - len(s.table); grow > 0 {
		var err error
		if s.table, err = m.pool.Allocate(s.table, grow); err != nil {
			panic("paged: planned allocation failed: " + err.Error())
		}
	}
	s.reserved = max(s.reserved, target)
	return copies
}

// slot returns the slot of a reserved position.
func (m *Manager) slot(s *sequence, pos int) int64 {
	j := m.div(pos)
	return int64(s.table[j])*int64(m.bs) + int64(pos-j*m.bs)
}
