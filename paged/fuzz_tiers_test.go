package paged

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

// FuzzTiers is FuzzManager with a fourth header byte of extended flags (the host
// prefix cache, priorities and the clock, partial reuse, registration at reserve,
// duplicate parents, EAGLE's dropped block) and operations for pins, the clock and
// the tiered questions. FuzzManager's inputs keep their meaning.
func FuzzTiers(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runFuzz(t, data, true) })
}

// fuzzSeeds are deterministic pseudo-random scripts (random flags too); the
// committed corpus in testdata/fuzz adds more.
func fuzzSeeds() [][]byte {
	var out [][]byte
	x := uint32(2463534242)
	for range 64 {
		b := make([]byte, 1000)
		for j := range b {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			b[j] = byte(x)
		}
		out = append(out, b)
	}
	return out
}

// TestRandomTierOperations runs FuzzTiers' seeds with every extended flag
// combination cycling through them.
func TestRandomTierOperations(t *testing.T) {
	for i, seed := range fuzzSeeds() {
		seed = slices.Clone(seed)
		seed[3] = byte(i * 37) // spread the extended flags
		t.Run(fmt.Sprint(i), func(t *testing.T) { runFuzz(t, seed, true) })
	}
}

// tierOpTable is FuzzTiers' table: the same operations plus pins, the clock and the
// tiered questions.
var tierOpTable = func() (t [256]uint8) {
	weights := [21]int{
		0: 16, 1: 14, 2: 6, 3: 24, 4: 8, 5: 18, 6: 6, 7: 22, // add reserve append mark fork free rollback decode
		8: 3, 9: 8, 10: 10, 11: 10, 12: 20, 13: 10, 14: 6, 15: 8, // reset lookups swapout swapin admit markbatch reads take
		16: 8, 17: 5, 18: 6, 19: 8, 20: 40, // pin unpin clock tiers turn
	}
	i := 0
	for op, w := range weights {
		for range w {
			t[i] = uint8(op)
			i++
		}
	}
	if i != 256 {
		panic("op weights must sum to 256")
	}
	return t
}()

// pin pins a live sequence's tokens (or a prefix of them), with full-range checks.
func (f *fuzzer) pin() {
	m := f.m
	s, _ := f.pick()
	var prompt []int32
	opts := SeqOptions{}
	if s != nil {
		k := f.num(len(s.tokens) + 1)
		if k < 0 || k > len(s.tokens) {
			k = len(s.tokens)
		}
		prompt, opts = s.tokens[:k], s.opts
		opts.MM = nil
		if outside(s.opts.MM, len(prompt)) {
			return
		}
		opts.MM = s.opts.MM
	}
	f.note("pin tokens", len(prompt))
	before := f.digest()
	st := m.Stats()
	id, n, err := m.Pin(prompt, opts)
	switch {
	case len(prompt) == 0:
		f.expectErr(err, before, ErrInvalidArgument)
	case f.expectErr(err, before, nil, ErrNotCached, ErrPinLimit):
		if errors.Is(err, ErrPinLimit) && st.PinnedBlocks+(len(prompt)/f.bs) <= m.maxPinned() {
			f.fatalf("ErrPinLimit with %d pinned of %d for %d tokens", st.PinnedBlocks, m.maxPinned(), len(prompt))
		}
	default:
		if n%f.bs != 0 || n == 0 || n > len(prompt) || id == 0 {
			f.fatalf("pinned %d tokens of %d (id %d)", n, len(prompt), id)
		}
		f.pins = append(f.pins, id)
	}
}

// unpin unpins a live pin, or tries a dead or made-up one.
func (f *fuzzer) unpin() {
	m := f.m
	if len(f.pins) > 0 && f.next()%4 != 0 {
		i := f.next() % len(f.pins)
		id := f.pins[i]
		f.note("unpin", int(id))
		f.expectErr(m.Unpin(id), 0)
		f.pins = slices.Delete(f.pins, i, i+1)
		f.deadPins = append(f.deadPins, id)
		return
	}
	bad := []PinID{0, math.MaxUint64, 1 << 32}
	if len(f.deadPins) > 0 {
		bad = append(bad, f.deadPins[f.next()%len(f.deadPins)])
	}
	id := bad[f.next()%len(bad)]
	if slices.Contains(f.pins, id) {
		return
	}
	f.note("unpin a bad id", int(id))
	f.expectErr(m.Unpin(id), f.digest(), ErrUnknownPin)
}

// clock advances the clock (or tries to move it back).
func (f *fuzzer) clock() {
	m := f.m
	now := m.Clock()
	d := int64(f.num(4))
	f.note("clock +", int(d))
	before := f.digest()
	err := m.SetClock(now + d)
	if d < 0 || now+d > MaxTime || now+d < 0 {
		f.expectErr(err, before, ErrInvalidArgument)
		return
	}
	f.expectErr(err, 0)
	if m.Clock() != now+d {
		f.fatalf("clock %d, set %d", m.Clock(), now+d)
	}
}

// tierQuestions asks the tiered questions and checks them against each other.
func (f *fuzzer) tierQuestions() {
	m := f.m
	f.note("tiers")
	before := f.digest()
	if s, _ := f.pick(); s != nil {
		h, err := m.CachedPrefixTiers(s.id)
		f.expectErr(err, 0)
		c, _ := m.CachedPrefix(s.id)
		if h.Tokens != c || h.Tokens != h.Device+h.Host+h.Partial || h.Device%f.bs != 0 || h.Host%f.bs != 0 ||
			h.Partial >= f.bs || h.Partial < 0 || (!m.tier.on && h.Host != 0) || (!m.cfg.PartialBlockReuse && h.Partial != 0) {
			f.fatalf("CachedPrefixTiers %+v, CachedPrefix %d", h, c)
		}
		if !outside(s.opts.MM, len(s.tokens)) {
			h2, err := m.LookupPromptTiers(s.tokens, s.opts)
			if f.expectErr(err, 0); h2 != h {
				f.fatalf("LookupPromptTiers %+v, CachedPrefixTiers %+v", h2, h)
			}
		}
		la := f.num(3)
		v, err := m.CanSwapIn(s.id, la)
		switch {
		case la < 0 || la > MaxSeqLen:
			f.expectErr(err, 0, ErrInvalidArgument)
		case !s.swapped:
			f.expectErr(err, 0, ErrInvalidArgument)
		default:
			f.expectErr(err, 0)
			need, _ := m.SwapInBlocks(s.id)
			if v == AdmitNever && need+m.WatermarkBlocks() <= m.cfg.NumBlocks && la == 0 && len(s.tokens) == s.computed {
				f.fatalf("CanSwapIn never for %d blocks", need)
			}
		}
	}
	if f.digest() != before {
		f.fatalf("tier questions changed the manager")
	}
}

// turn is one request's life in a row, as multi-turn traffic makes it: a prompt
// that extends a live or a freed sequence's tokens (a conversation coming back) or
// a new one, admitted whole, computed, decoded for a few tokens and, three times in
// four, freed. It drives evictions, offloads, onloads and partial reuse far more often
// than independent operations do.
func (f *fuzzer) turn() {
	m, bs := f.m, f.bs
	var prompt []int32
	opts := SeqOptions{}
	var base *modelSeq
	switch r := f.next() % 4; {
	case r < 2 && len(f.history) > 0: // mostly a recent conversation
		base = f.history[max(0, len(f.history)-1-f.next()%6)]
	case r < 3:
		base, _ = f.pick()
	}
	if base != nil {
		cut := len(base.tokens)
		if f.next()%2 == 0 {
			cut = f.next() % (cut + 1) // diverge inside (partial reuse)
		}
		prompt = append(prompt, base.tokens[:cut]...)
		opts.CacheSalt = base.opts.CacheSalt
	}
	for range 1 + f.next()%(2*bs) {
		prompt = append(prompt, int32(f.next()%3))
	}
	if f.ext&xPriority != 0 {
		opts.Priority, opts.PriorityDuration = f.next()%21*10-100, int64(f.next()%4)
	}
	f.note("turn: add len", len(prompt))
	id, err := m.Add(prompt, opts)
	f.expectErr(err, 0)
	s := &modelSeq{id: id, tokens: prompt, opts: opts}
	f.seqs = append(f.seqs, s)
	f.admitSeq(s, len(prompt), 0)
	if !s.started {
		return // waiting: AdmitLater
	}
	f.mark(s, s.reserved-s.computed)
	for range f.next() % 3 {
		f.decodeBatch([]*modelSeq{s}, []SeqID{s.id}, false, 0)
		if s.reserved > s.computed {
			f.mark(s, 1)
		}
	}
	if f.next()%4 != 0 {
		f.note("turn: free", int(s.id))
		f.checkSeq(s)
		f.expectErr(m.Free(s.id), 0)
		f.seqs = f.seqs[:len(f.seqs)-1]
		f.dead = append(f.dead, s.id)
		f.history = append(f.history, s)
	}
}
