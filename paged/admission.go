package paged

import "fmt"

// Admission is the answer of an admission check.
type Admission int

const (
	// AdmitNow: the prompt fits while keeping the watermark free.
	AdmitNow Admission = iota
	// AdmitLater: it does not fit now; it may after running sequences finish.
	AdmitLater
	// AdmitNever: even an empty cache could not hold it above the watermark.
	AdmitNever
)

func (a Admission) String() string {
	switch a {
	case AdmitNow:
		return "now"
	case AdmitLater:
		return "later"
	case AdmitNever:
		return "never"
	}
	return fmt.Sprintf("Admission(%d)", int(a))
}

// WatermarkBlocks returns the number of blocks admission keeps free:
// floor(Watermark × NumBlocks).
func (m *Manager) WatermarkBlocks() int { return int(m.cfg.Watermark * float64(m.cfg.NumBlocks)) }

func (m *Manager) admit(required int) Admission {
	wm := m.WatermarkBlocks()
	switch {
	case m.cfg.NumBlocks-required < wm:
		return AdmitNever
	case m.pool.NumFree()-required >= wm:
		return AdmitNow
	}
	return AdmitLater
}

// CanAdmit reports whether a new prompt of promptLen tokens (plus lookahead slots)
// can be admitted while keeping WatermarkBlocks free, assuming no prefix hits (the
// worst case, as vLLM V0).
func (m *Manager) CanAdmit(promptLen, lookahead int) Admission {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.admit(m.blocksFor(promptLen + lookahead))
}

// CanAdmitSequence is CanAdmit for an added, not yet started sequence, counting its
// current prefix hits: hit blocks other sequences hold need no free block.
func (m *Manager) CanAdmitSequence(id SeqID, lookahead int) (Admission, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return AdmitNever, err
	}
	if s.claimed {
		return AdmitNever, fmt.Errorf("%w: sequence %d already started", ErrInvalidArgument, id)
	}
	m.hitBuf = m.findHits(m.hitBuf[:0], &s.chain, s.tokens, m.maxHitBlocks(len(s.tokens)))
	required := m.blocksFor(len(s.tokens) + lookahead)
	for _, b := range m.hitBuf {
		if m.pool.RefCount(b) > 0 {
			required--
		}
	}
	return m.admit(required), nil
}
