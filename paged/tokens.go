package paged

import (
	"fmt"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// Append adds accepted tokens (generated, or verified speculative ones) to the
// sequence. Newly completed blocks are hashed now; they become visible to other
// sequences once their tokens are marked computed.
func (m *Manager) Append(id SeqID, tokens ...int32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return err
	}
	m.appendTokens(s, tokens)
	return nil
}

func (m *Manager) appendTokens(s *sequence, tokens []int32) {
	s.tokens = append(s.tokens, tokens...)
	if m.div(len(s.tokens)) > s.chain.Len() {
		s.chain.Extend(s.tokens)
	}
}

// Rollback removes the last n tokens of the sequence (rejected speculative tokens
// that were appended). The computed count drops to at most the new length and any
// outstanding reservation is dropped (reserved = computed); blocks stay in the table
// and are reused by later reservations, which copy on write where a block is shared
// or cached. Blocks already registered in the prefix cache stay registered: their
// contents are still valid for the prefix they hash.
func (m *Manager) Rollback(id SeqID, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return err
	}
	if n < 0 || n >= len(s.tokens) {
		return fmt.Errorf("%w: roll back %d of %d tokens (at least one must remain)", ErrInvalidArgument, n, len(s.tokens))
	}
	l := len(s.tokens) - n
	s.tokens = s.tokens[:l]
	s.computed = min(s.computed, l)
	s.reserved = s.computed
	s.numCached = min(s.numCached, l/m.bs)
	s.chain.Truncate(l / m.bs)
	return nil
}

// MarkComputed records that the engine wrote KV for the next n reserved tokens
// (positions [computed, computed+n)). Exactly then, every block whose tokens are
// now all computed is registered in the prefix cache: later lookups and
// reservations, by any sequence, can hit it.
func (m *Manager) MarkComputed(id SeqID, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return err
	}
	if err := m.checkMark(s, n); err != nil {
		return fmt.Errorf("sequence %d: %w", id, err)
	}
	m.markComputed(s, n)
	return nil
}

// MarkComputedBatch is MarkComputed(ids[i], n) for every id under one lock, all or
// nothing.
func (m *Manager) MarkComputedBatch(ids []SeqID, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stamp++
	batch := m.batch[:0]
	for _, id := range ids {
		s, err := m.seq(id)
		if err != nil {
			return err
		}
		batch = append(batch, s)
		if s.stamp == m.stamp {
			return fmt.Errorf("%w: sequence %d appears twice in the batch", ErrInvalidArgument, id)
		}
		s.stamp = m.stamp
		if err := m.checkMark(s, n); err != nil {
			return fmt.Errorf("sequence %d: %w", id, err)
		}
	}
	m.batch = batch
	for _, s := range batch {
		m.markComputed(s, n)
	}
	return nil
}

func (m *Manager) checkMark(s *sequence, n int) error {
	if n < 0 || s.computed+n > s.reserved || s.computed+n > len(s.tokens) {
		return fmt.Errorf("%w: mark %d computed at %d (reserved %d, tokens %d)", ErrInvalidArgument, n, s.computed, s.reserved, len(s.tokens))
	}
	return nil
}

func (m *Manager) markComputed(s *sequence, n int) {
	s.computed += n
	if !m.cfg.EnablePrefixCaching {
		return
	}
	full := m.div(s.computed)
	if full <= s.numCached {
		return
	}
	runStart := -1 // first block of the current run of newly stored hashes
	hashes := m.evHashes[:0]
	for j := s.numCached; j < full; j++ {
		parent := blockpool.Root
		if j > 0 {
			parent = m.pool.Ref(s.table[j-1])
		}
		first, err := m.pool.Cache(s.table[j], blockpool.Key{
			Hash: uint64(s.chain.Hash(j)), Parent: parent,
			Tokens: s.tokens[j*m.bs : (j+1)*m.bs], Extra: s.chain.ExtraFingerprint(j),
		})
		if err != nil {
			panic("paged: registering a computed block failed: " + err.Error())
		}
		if m.cfg.Events == nil {
			continue
		}
		if first {
			if runStart < 0 {
				runStart = j
			}
			hashes = append(hashes, s.chain.Hash(j))
		} else if runStart >= 0 {
			m.emitStored(s, runStart, hashes)
			runStart, hashes = -1, hashes[:0]
		}
	}
	if runStart >= 0 {
		m.emitStored(s, runStart, hashes)
	}
	m.evHashes = hashes
	s.numCached = full
}

func (m *Manager) emitStored(s *sequence, first int, hashes []prefix.Hash) {
	ev := BlocksStored{
		Hashes: hashes, Tokens: s.tokens[first*m.bs : (first+len(hashes))*m.bs],
		BlockSize: m.bs, Adapter: s.adapter,
	}
	if first > 0 {
		ev.Parent, ev.HasParent = s.chain.Hash(first-1), true
	}
	m.cfg.Events.BlocksStored(ev)
}
