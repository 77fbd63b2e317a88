package paged

import (
	"fmt"

	"github.com/pagedkv/pagedkv/blockpool"
)

// BlockCopy asks the engine to copy the KV contents of block Src into block Dst
// before it writes this step's new tokens (copy-on-write).
type BlockCopy struct {
	Src, Dst blockpool.BlockID
}

// Reservation is the result of Reserve.
type Reservation struct {
	// Claimed is the number of prompt tokens this call took from the prefix cache
	// (first reservation only; 0 afterwards). They count as computed.
	Claimed int
	// Start is the first position to compute: the new tokens occupy [Start, Start+n)
	// and the lookahead slots follow them.
	Start int
	// Copies are the copy-on-write copies the engine must perform before writing,
	// appended to the slice the caller passed in.
	Copies []BlockCopy
}

// Reserve reserves slots for the next n tokens of a sequence (positions starting at
// its computed count) plus lookahead extra slots (speculative draft tokens whose ids
// the manager does not know). Typical calls: a prefill chunk (n = chunk), a decode
// step (n = 1), a decode step with k speculative tokens (n = 1, lookahead = k).
//
// The first Reserve of a sequence claims its cached prefix: whole cached blocks, at
// most (len(tokens) − n) tokens and never the last token, become computed, and the
// n tokens follow them. The claimed count is in the result.
//
// A reserved slot that falls into a block another sequence also references, or that
// is cached, moves this sequence to a fresh block; if the old block held computed
// tokens of this sequence, a (Src, Dst) copy is appended to copies for the engine.
// Full shared blocks are never copied.
//
// All or nothing: if the pool lacks the blocks (fresh blocks plus cached free blocks
// the claim would revive), Reserve returns ErrNoSpace and changes nothing.
func (m *Manager) Reserve(id SeqID, n, lookahead int, copies []BlockCopy) (Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return Reservation{Copies: copies}, err
	}
	if n < 0 || lookahead < 0 || n+lookahead == 0 {
		return Reservation{Copies: copies}, fmt.Errorf("%w: reserve n=%d lookahead=%d", ErrInvalidArgument, n, lookahead)
	}
	if s.computed+n > len(s.tokens) {
		return Reservation{Copies: copies}, fmt.Errorf("%w: reserve %d tokens at position %d of a %d-token sequence",
			ErrInvalidArgument, n, s.computed, len(s.tokens))
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
		return Reservation{Copies: copies}, fmt.Errorf("%w: sequence %d needs %d blocks, %d free", ErrNoSpace, id, need, m.pool.NumFree())
	}
	res := Reservation{Start: start}
	if !s.claimed {
		for _, b := range hits {
			_ = m.pool.Retain(b)
		}
		s.table = append(s.table, hits...)
		s.computed, s.numCached, s.claimed = start, len(hits), true
		res.Claimed = start
		if m.cfg.EnablePrefixCaching {
			m.stats.record(len(s.tokens), start)
		}
	}
	res.Copies = m.applyReserve(s, target, copies)
	return res, nil
}

// planReserve returns how many fresh blocks reserving positions [start, target)
// needs: blocks beyond the table (whose first claimedBlocks entries are about to be
// hits) and copy-on-write replacements of shared or cached blocks in the range.
func (m *Manager) planReserve(s *sequence, claimedBlocks, start, target int) int {
	have := len(s.table) + claimedBlocks
	need := max(0, m.blocksFor(target)-have)
	for j := m.div(start); j < min(len(s.table), m.blocksFor(target)); j++ {
		if m.mustReplace(s.table[j]) {
			need++
		}
	}
	return need
}

// mustReplace reports whether a block cannot be written in place.
func (m *Manager) mustReplace(b blockpool.BlockID) bool { return !m.pool.Writable(b) }

// applyReserve makes positions [computed, target) writable; the caller has checked
// that planReserve's blocks are free.
func (m *Manager) applyReserve(s *sequence, target int, copies []BlockCopy) []BlockCopy {
	end := m.blocksFor(target)
	for j := m.div(s.computed); j < min(len(s.table), end); j++ {
		old := s.table[j]
		if !m.mustReplace(old) {
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

// DecodeStep runs the manager's part of one decode step for a batch under one lock:
// for each i it appends tokens[i] (the token sampled last step) to ids[i], reserves
// its slot plus lookahead slots, and writes the new token's slot into slots[i]
// (len(slots) ≥ len(ids)). Each sequence must have every earlier token computed.
// Copy-on-write copies are appended to copies and returned.
//
// All or nothing over the whole batch: on any error (unknown or repeated id, a
// sequence not ready for decode, not enough free blocks) nothing changes.
func (m *Manager) DecodeStep(ids []SeqID, tokens []int32, lookahead int, slots []int64, copies []BlockCopy) ([]BlockCopy, error) {
	if len(tokens) != len(ids) || len(slots) < len(ids) || lookahead < 0 {
		return copies, fmt.Errorf("%w: %d ids, %d tokens, %d slots, lookahead %d", ErrInvalidArgument, len(ids), len(tokens), len(slots), lookahead)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stamp++
	need := 0
	batch := m.batch[:0]
	for _, id := range ids {
		s, err := m.onDevice(id)
		if err != nil {
			return copies, err
		}
		batch = append(batch, s)
		if s.stamp == m.stamp {
			return copies, fmt.Errorf("%w: sequence %d appears twice in the batch", ErrInvalidArgument, id)
		}
		s.stamp = m.stamp
		if !s.claimed || s.computed != len(s.tokens) {
			return copies, fmt.Errorf("%w: sequence %d has %d of %d tokens computed; decode needs all", ErrInvalidArgument, id, s.computed, len(s.tokens))
		}
		need += m.planReserve(s, 0, s.computed, s.computed+1+lookahead)
	}
	if need > m.pool.NumFree() {
		return copies, fmt.Errorf("%w: batch of %d needs %d blocks, %d free", ErrNoSpace, len(ids), need, m.pool.NumFree())
	}
	m.batch = batch
	for i, s := range batch {
		m.appendTokens(s, tokens[i:i+1])
		copies = m.applyReserve(s, s.computed+1+lookahead, copies)
		slots[i] = m.slot(s, s.computed)
	}
	return copies, nil
}

func (m *Manager) slot(s *sequence, pos int) int64 {
	j := m.div(pos)
	return int64(s.table[j])*int64(m.bs) + int64(pos-j*m.bs)
}
