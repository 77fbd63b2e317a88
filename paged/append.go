package paged

// Append adds accepted tokens (generated, or verified speculative ones) to the
// sequence; a swapped-out sequence may append too. Newly completed blocks are hashed
// now; they become visible to other sequences once their tokens are marked computed.
// The sequence may hold at most MaxSeqLen tokens (ErrInvalidArgument beyond).
func (m *Manager) Append(id SeqID, tokens ...int32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return err
	}
	if len(tokens) > MaxSeqLen-len(s.tokens) {
		return errf(ErrInvalidArgument, "appending %d tokens to %d exceeds MaxSeqLen", len(tokens), len(s.tokens))
	}
	m.appendTokens(s, tokens)
	return nil
}

func (m *Manager) appendTokens(s *sequence, tokens []int32) {
	s.tokens = append(s.tokens, tokens...)
	if m.div(len(s.tokens)) > s.chain.Len() {
		s.chain.Extend(s.tokens)
		if m.ownFps {
			s.fps = extendFingerprints(s.fps, &s.chain, s.tokens, m.bs)
		}
	}
}

// Rollback removes the last n tokens of the sequence (rejected speculative tokens
// that were appended), 0 ≤ n < tokens. The computed count drops to at most the new
// length and any outstanding reservation is dropped (reserved = computed); blocks stay
// in the table and are reused by later reservations, which copy on write where a
// block is shared or cached. Blocks already registered in the prefix cache stay
// registered: their contents are still valid for the prefix they hash. With a
// windowed KV-cache group, a rollback whose new computed count would need a block
// the group already released gives ErrInvalidArgument and changes nothing; the
// blocks are released by reservations, for the tokens computed before them, so
// rolling back the tokens of the last reservation never does.
func (m *Manager) Rollback(id SeqID, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return err
	}
	if n < 0 || n >= len(s.tokens) {
		return errf(ErrInvalidArgument, "roll back %d of %d tokens (at least one must remain)", n, len(s.tokens))
	}
	l := len(s.tokens) - n
	if g := m.rollbackReleased(s, min(s.computed, l)); g >= 0 {
		return errf(ErrInvalidArgument, "roll back %d tokens of sequence %d: group %d (%v, window %d) released blocks the sequence would need again",
			n, id, g, m.grp[g].kind, m.grp[g].window)
	}
	s.tokens = s.tokens[:l]
	s.computed = min(s.computed, l)
	s.reserved = s.computed
	s.numCached = min(s.numCached, l/m.bs)
	s.chain.Truncate(l / m.bs)
	s.relAt = min(s.relAt, s.computed)
	if m.ownFps {
		s.fps = s.fps[:s.chain.Len()]
	}
	return nil
}
