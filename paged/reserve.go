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

// Copy directions (block.Dir), re-exported.
const (
	DeviceToDevice = block.DeviceToDevice
	DeviceToHost   = block.DeviceToHost
	HostToDevice   = block.HostToDevice
)

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
	// Copies are the copies the engine must perform, in list order (see package
	// block), before it writes: copy-on-write, and with a host prefix cache the
	// offloads of evicted blocks (DeviceToHost), the onloads of host hits
	// (HostToDevice) and partial-block copies. Appended to the slice the caller
	// passed in.
	Copies []BlockCopy
	// Onloaded is the part of Claimed copied in from the host tier (whole blocks);
	// PartialTokens the part reused from a partly matching block. Claimed −
	// Onloaded − PartialTokens tokens were claimed on the device without a copy.
	Onloaded, PartialTokens int
}

// Reserve reserves slots for the next n tokens of a sequence (positions starting at
// its computed count) plus lookahead extra slots (speculative draft tokens whose ids
// the manager does not know). Typical calls: a prefill chunk (n = chunk), a decode
// step (n = 1), a decode step with k speculative tokens (n = 1, lookahead = k).
// n must be in [0, tokens − computed] and lookahead in [0, MaxSeqLen], not both 0.
//
// The first Reserve of a sequence claims its cached prefix: whole cached blocks (and
// with PartialBlockReuse the matching part of the next block), at most (len(tokens) −
// n) tokens and never the last token, become computed, and the n tokens follow them.
// The claimed count is in the result. (Admit does the same with the watermark check,
// choosing n from the hit.)
//
// With a windowed KV-cache group (Config.Groups), a reservation first releases the
// blocks the group's layers no longer read from computed on (NullBlock in its table);
// they count as free for the reservation.
//
// A reserved slot that falls into a block another sequence also references, or that
// is cached, moves this sequence to a fresh block; if the old block held computed
// tokens of this sequence, a (Src, Dst) copy is appended to copies for the engine.
// Full shared blocks are never copied. (With RegisterAtReserve, blocks the sequence
// registered ahead of computing them are its own to write.)
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
	if s.claimed {
		target := s.computed + n + lookahead
		if need := m.planReserve(s, 0, s.computed, target); need > m.pool.NumFree()+m.slideFreesOne(s) {
			return fail, errf(ErrNoSpace, "sequence %d needs %d blocks, %d free", id, need, m.pool.NumFree())
		}
		m.begin(copies, nil)
		if m.windowed {
			m.slide(s)
		}
		m.applyReserve(s, target, s.computed+n)
		return Reservation{Start: s.computed, N: n, Copies: m.end()}, nil
	}
	limit := min(len(s.tokens)-1, len(s.tokens)-n)
	l := m.findPrefix(&s.chain, s.fps, s.tokens, &s.extras, min(m.maxHitBlocks(len(s.tokens)), (len(s.tokens)-n)/m.bs), limit)
	if need := m.planClaim(s, l, n, lookahead); need > m.pool.NumFree() {
		return fail, errf(ErrNoSpace, "sequence %d needs %d blocks, %d free", id, need, m.pool.NumFree())
	}
	m.begin(copies, l)
	res := m.claim(s, l)
	res.Start, res.N = s.computed, n
	m.applyReserve(s, s.computed+n+lookahead, s.computed+n)
	m.endClaim(l)
	res.Copies = m.end()
	return res, nil
}

// claimNeed returns how many free device blocks claiming lookup l and reserving its
// next min(maxNew, tokens − claimed) tokens plus lookahead need: fresh blocks beyond
// the hits, a device block per host hit, the revived free cached hits, and the
// partial block's source while it is held.
func (m *Manager) claimNeed(s *sequence, l *lookup, maxNew, lookahead int) int {
	start := l.tokens(m.bs)
	need := l.hostHits + l.revived + m.planReserve(s, l.blocks(), start, start+min(maxNew, len(s.tokens)-start)+lookahead)
	if l.partialK > 0 && !l.partHost && m.pool.RefCount(l.partial) == 0 {
		need++
	}
	return need
}

// planClaim is claimNeed, dropping the partial reuse from l when only holding its
// source makes the claim not fit.
func (m *Manager) planClaim(s *sequence, l *lookup, maxNew, lookahead int) int {
	need := m.claimNeed(s, l, maxNew, lookahead)
	if need > m.pool.NumFree() && l.partialK > 0 {
		l.dropPartial()
		need = m.claimNeed(s, l, maxNew, lookahead)
	}
	return need
}

// holdSources takes a reference on every source of claim l before anything is
// allocated: the device hits (for good: they join the table), the host hits and the
// partial block's source (until endClaim).
func (m *Manager) holdSources(l *lookup) {
	if l.hyb {
		m.holdHybrid(l)
		return
	}
	for _, h := range l.hits {
		if h.host {
			_ = m.host.Retain(h.id) // cannot fail: hits are in range
		} else {
			_ = m.pool.Retain(h.id)
		}
	}
	if l.partialK > 0 {
		if l.partHost {
			_ = m.host.Retain(l.partial)
		} else {
			_ = m.pool.Retain(l.partial)
		}
	}
}

// claim starts an unstarted sequence on its prefix hits (l, held by begin): it
// builds the head of its table from the device hits and onloaded host hits, copies
// the partial block, counts the claimed tokens as computed (the whole-block hits as
// cached) and records the prefix-cache query. The caller has checked that it fits
// (planClaim) and called begin with l.
func (m *Manager) claim(s *sequence, l *lookup) Reservation {
	if l.hyb {
		return m.claimHybrid(s, l)
	}
	runStart := -1 // a run of onloaded blocks, reported as stored on the device
	for j, h := range l.hits {
		if h.host {
			runStart = m.storedRun(s, j, m.onload(s, h.id), runStart)
			continue
		}
		s.table = append(s.table, h.id)
		if m.tier.on {
			m.hitBlock(h.id)
		}
		if runStart >= 0 && m.events.on {
			m.events.stored(s, runStart, j)
		}
		runStart = -1
	}
	if runStart >= 0 && m.events.on {
		m.events.stored(s, runStart, len(l.hits))
	}
	s.computed, s.numCached, s.claimed = len(l.hits)*m.bs, len(l.hits), true
	res := Reservation{Claimed: s.computed, Onloaded: l.hostHits * m.bs}
	if l.partialK > 0 {
		got, err := m.pool.Allocate(m.oneBlock[:0], 1)
		if err != nil {
			panic("paged: planned allocation failed: " + err.Error())
		}
		dir := DeviceToDevice
		if l.partHost {
			dir = HostToDevice
		}
		m.out = append(m.out, BlockCopy{Src: l.partial, Dst: got[0], Dir: dir})
		s.table = append(s.table, got[0])
		s.computed += l.partialK
		res.Claimed, res.PartialTokens = s.computed, l.partialK
		m.stats.partialReuses++
		m.stats.partialTokens += uint64(l.partialK)
	}
	m.stats.hostTokens += uint64(l.hostHits * m.bs)
	if m.caching() {
		m.stats.record(len(s.tokens), s.computed)
	}
	return res
}

// endClaim lets go of the host hits and the partial source claim held (to the tails
// of their free queues: they were just used).
func (m *Manager) endClaim(l *lookup) {
	for _, h := range l.hits {
		if h.host {
			m.hostOne[0] = h.id
			_ = m.host.Release(m.hostOne[:1])
		}
	}
	if l.partialK > 0 {
		var err error
		if m.oneBlock[0] = l.partial; l.partHost {
			err = m.host.Release(m.oneBlock[:1])
		} else {
			err = m.pool.Release(m.oneBlock[:1])
		}
		if err != nil {
			panic("paged: releasing a claim source failed: " + err.Error())
		}
	}
}

// planReserve returns how many fresh blocks reserving positions [start, target)
// needs in every group's table: blocks beyond the table (whose first claimedBlocks
// entries are about to be hits) and copy-on-write replacements of shared or cached
// blocks in the range.
func (m *Manager) planReserve(s *sequence, claimedBlocks, start, target int) int {
	// Group 0 inline (the plain model's hot path), planTable for the others.
	end := m.blocksFor(target)
	need := max(0, end-len(s.table)-claimedBlocks)
	for j := m.div(start); j < min(len(s.table), end); j++ {
		if !m.ownsBlock(s, s.table, j) {
			need++
		}
	}
	for _, t := range s.more {
		need += m.planTable(s, t, claimedBlocks, start, target)
	}
	return need
}

// planTable is planReserve for one group's table.
func (m *Manager) planTable(s *sequence, table []blockpool.BlockID, claimedBlocks, start, target int) int {
	have := len(table) + claimedBlocks
	need := max(0, m.blocksFor(target)-have)
	for j := m.div(start); j < min(len(table), m.blocksFor(target)); j++ {
		if !m.ownsBlock(s, table, j) {
			need++
		}
	}
	return need
}

// ownsBlock reports whether s may write block j of its table (one group's) in
// place: it holds the only reference and the block is not cached, or
// (RegisterAtReserve) s registered it ahead of computing it (j < numCached inside
// the writable range).
func (m *Manager) ownsBlock(s *sequence, table []blockpool.BlockID, j int) bool {
	return j < s.numCached || m.pool.Writable(table[j])
}

// applyReserve makes positions [computed, target) writable in every group's table,
// appending copies to m.out, and with RegisterAtReserve registers the blocks the
// tokens before regTo fill; the caller has checked that planReserve's blocks are
// free and called begin.
func (m *Manager) applyReserve(s *sequence, target, regTo int) {
	// Group 0 inline (the plain model's hot path), reserveTable for the others.
	end := m.blocksFor(target)
	for j := m.div(s.computed); j < min(len(s.table), end); j++ {
		if !m.ownsBlock(s, s.table, j) {
			m.copyOnWrite(s, s.table, j)
		}
	}
	if grow := end - len(s.table); grow > 0 {
		var err error
		if s.table, err = m.pool.Allocate(s.table, grow); err != nil {
			panic("paged: planned allocation failed: " + err.Error())
		}
	}
	for g := range s.more {
		m.reserveTable(s, &s.more[g], target)
	}
	s.reserved = max(s.reserved, target)
	if m.cfg.RegisterAtReserve && m.caching() {
		m.register(s, m.div(min(regTo, len(s.tokens))))
	}
}

// reserveTable is applyReserve's work on one group's table.
func (m *Manager) reserveTable(s *sequence, tab *[]blockpool.BlockID, target int) {
	table := *tab
	end := m.blocksFor(target)
	for j := m.div(s.computed); j < min(len(table), end); j++ {
		if !m.ownsBlock(s, table, j) {
			m.copyOnWrite(s, table, j)
		}
	}
	if grow := end - len(table); grow > 0 {
		var err error
		if *tab, err = m.pool.Allocate(table, grow); err != nil {
			panic("paged: planned allocation failed: " + err.Error())
		}
	}
}

// copyOnWrite moves entry j of a table to a fresh block, copying the old block if
// it holds computed tokens of s, and lets go of the old block.
func (m *Manager) copyOnWrite(s *sequence, table []blockpool.BlockID, j int) {
	old := table[j]
	got, err := m.pool.Allocate(m.oneBlock[:0], 1)
	if err != nil {
		panic("paged: planned allocation failed: " + err.Error())
	}
	fresh := got[0]
	if j*m.bs < s.computed { // the block holds computed tokens: copy them
		m.out = append(m.out, BlockCopy{Src: old, Dst: fresh})
		m.stats.cows++
	}
	m.oneBlock[0] = old
	_ = m.pool.ReleaseWith(m.oneBlock[:1], m.retention(s))
	table[j] = fresh
}

// slot returns the slot of a reserved position.
func (m *Manager) slot(s *sequence, pos int) int64 {
	j := m.div(pos)
	return int64(s.table[j])*int64(m.bs) + int64(pos-j*m.bs)
}
