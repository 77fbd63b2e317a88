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

// String returns "now", "later" or "never".
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

// admit answers for a request that needs required more blocks (0 ≤ required ≤
// NumBlocks + MaxSeqLen: no overflow).
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

// checkLookahead range-checks a lookahead count.
func checkLookahead(lookahead int) error {
	if lookahead < 0 || lookahead > MaxSeqLen {
		return errf(ErrInvalidArgument, "lookahead %d not in [0, %d]", lookahead, MaxSeqLen)
	}
	return nil
}

// CanAdmit reports whether a new prompt of promptLen tokens (plus lookahead slots)
// can be admitted while keeping WatermarkBlocks free, assuming no prefix hits (the
// worst case, as vLLM V0) and, with KV-cache groups, that the whole prompt is
// reserved at once (a windowed group needs at most the blocks its window and the
// prompt span). It changes nothing. promptLen must be in [1, MaxSeqLen]
// and lookahead in [0, MaxSeqLen], else ErrInvalidArgument.
func (m *Manager) CanAdmit(promptLen, lookahead int) (Admission, error) {
	if promptLen < 1 || promptLen > MaxSeqLen {
		return AdmitNever, errf(ErrInvalidArgument, "prompt length %d not in [1, %d]", promptLen, MaxSeqLen)
	}
	if err := checkLookahead(lookahead); err != nil {
		return AdmitNever, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hybrid {
		return m.admit(m.requiredBlocks(promptLen, nil, promptLen, lookahead)), nil
	}
	return m.admit(m.blocksFor(promptLen + lookahead)), nil
}

// Admitted is the result of Admit.
type Admitted struct {
	// Admission is AdmitNow when the sequence was admitted and its slots reserved;
	// AdmitLater or AdmitNever when nothing changed.
	Admission Admission
	// Cached is the number of leading prompt tokens found in the prefix cache (never
	// the last token). On AdmitNow they were claimed and count as computed.
	Cached int
	// Hit splits Cached by tier (Hit.Tokens == Cached): on AdmitNow what was claimed
	// (Hit.Host == Onloaded, Hit.Partial == PartialTokens), otherwise what a claim
	// would take now.
	Hit PrefixHit
	// Reservation is valid on AdmitNow: Claimed == Start == Cached, and the N new
	// tokens to compute occupy [Start, Start+N), followed by the lookahead slots.
	// Copies holds the claim's copies (onloads of host hits, a partial block, the
	// offloads of blocks the allocations evicted), appended to the caller's slice.
	Reservation
}

// Admit is the one-call admission of an added sequence that has not started, as
// vLLM's get_computed_blocks followed by allocate_slots, under one lock and one walk
// of the sequence's chained hashes. It finds how many leading prompt tokens are
// cached (device blocks, host blocks, a partial block), decides whether the sequence
// can be admitted while keeping WatermarkBlocks free (device hits other sequences
// hold cost nothing; cached free blocks it revives, host hits and the partial block
// take fresh blocks), and on AdmitNow claims the hits and reserves slots for the
// next N = min(maxNew, tokens − Cached) tokens plus lookahead slots, recording the
// prefix-cache query in Stats.
//
// All or nothing: AdmitLater and AdmitNever change nothing (the scheduler may retry
// Admit later; CachedPrefix and LookupPrompt are the side-effect-free questions).
// maxNew must be ≥ 1 and lookahead in [0, MaxSeqLen]; a started sequence gives
// ErrInvalidArgument and a swapped one ErrSwapped.
func (m *Manager) Admit(id SeqID, maxNew, lookahead int, copies []BlockCopy) (Admitted, error) {
	out := Admitted{Admission: AdmitNever, Reservation: Reservation{Copies: copies}}
	if maxNew < 1 {
		return out, errf(ErrInvalidArgument, "admit with maxNew %d: at least one token must be computed", maxNew)
	}
	if err := checkLookahead(lookahead); err != nil {
		return out, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return out, err
	}
	if s.claimed {
		return out, errf(ErrInvalidArgument, "sequence %d already started", id)
	}
	l := m.lookupSeq(s)
	out.Cached, out.Hit = l.tokens(m.bs), l.prefixHit(m.bs)
	// Blocks for the whole prompt plus lookahead (a windowed group's at most what its
	// window spans), less the hits others already hold: no free block needed.
	out.Admission = m.admit(m.requiredBlocks(len(s.tokens), l, min(maxNew, len(s.tokens)-out.Cached), lookahead))
	if out.Admission != AdmitNow {
		return out, nil
	}
	if need := m.planClaim(s, l, maxNew, lookahead); need > m.pool.NumFree() {
		// Cannot happen: AdmitNow left the watermark (≥ 0 blocks) free after the
		// whole prompt. Kept so a future change cannot half-apply an admission.
		out.Admission = AdmitLater
		return out, nil
	}
	m.begin(copies, l)
	out.Reservation = m.claim(s, l)
	out.Cached, out.Hit = s.computed, l.prefixHit(m.bs) // less a dropped partial block
	out.Start, out.N = s.computed, min(maxNew, len(s.tokens)-s.computed)
	m.applyReserve(s, out.Start+out.N+lookahead, out.Start+out.N)
	m.endClaim(l)
	out.Copies = m.end()
	return out, nil
}
