package paged

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// The fuzzer drives the Manager with random operations — every exported method,
// valid and invalid arguments, full-range integers — and checks it against a small
// reference model plus a simulated KV store:
//   - the model predicts which calls must fail (and with which sentinel) and every
//     sequence's counters;
//   - the KV store plays the engine: it performs copy-on-write and swap copies,
//     scribbles over freshly reserved slots (as an engine writing drafts would) and
//     writes, at MarkComputed, a fingerprint of the sequence's whole prefix into each
//     slot. Every computed position of a sequence must read its own prefix
//     fingerprint through its block table. This catches wrong prefix hits, missed
//     copies and writes into shared blocks, whatever the block ids are;
//   - a call that fails leaves the manager exactly as it was (full snapshot);
//   - an event consumer applies the queued events and its view must equal the
//     cache's contents whenever no event was lost.
//
// Cost: the checks per operation are cheap (the sequences the operation touched,
// plain comparisons, reused buffers); CheckInvariants, every sequence's KV and the
// event view are checked every fullCheckEvery operations and at the end. An input
// runs at most maxOps operations, so minimising a new input stays fast.
const (
	maxOps         = 192
	fullCheckEvery = 16
)

type modelSeq struct {
	id       SeqID
	tokens   []int32
	computed int
	reserved int
	started  bool
	swapped  bool
	opts     SeqOptions // as given to Add
	relAt    int        // computed at the last reservation: windows released up to there
}

// fp is the fingerprint of the KV at position p: what an engine would compute there
// from the salt, tokens[0..p] and the multimodal items that start at or before p. Two
// sequences may share a block only if every position in it has equal fingerprints.
func (s *modelSeq) fp(p int) uint64 { return s.fps(nil, p+1)[p] }

// fps appends the fingerprints of positions [0, to) to dst in one pass (fp of each).
func (s *modelSeq) fps(dst []uint64, to int) []uint64 {
	h := uint64(1469598103934665603)
	mix := func(h, v uint64) uint64 { return (h ^ v) * 1099511628211 }
	for _, c := range s.opts.CacheSalt {
		h = mix(h, uint64(c))
	}
	for p, t := range s.tokens[:to] {
		h = mix(h, uint64(uint32(t)))
		f := h
		for _, it := range s.opts.MM {
			if it.Offset <= p {
				f = mix(f, uint64(it.Offset))
				for _, c := range it.ID {
					f = mix(f, uint64(c))
				}
			}
		}
		dst = append(dst, f|1) // 0 means "never written"
	}
	return dst
}

type fuzzer struct {
	t    testing.TB
	m    *Manager
	bs   int
	kv   []uint64 // kv[slot]
	host []uint64 // host-tier slots
	seqs []*modelSeq
	dead []SeqID
	data []byte
	pos  int
	step int
	what string // the operation, for failure messages
	args [6]int // its arguments
	narg int
	rec  *recorder
	sync bool // the recorder's view is complete (no event lost since the last clear)
	ext  byte // FuzzTiers' extended flags
	// tiers: a FuzzTiers input; freed sequences are kept in history for prompts
	// that come back (multi-turn traffic: host hits)
	tiers   bool
	history []*modelSeq
	// truth holds a digest of every (block hash, KV contents) pair the engine ever
	// computed for a full block: a cached block, in either tier, must hold one.
	truth    map[uint64]bool
	pins     []PinID
	deadPins []PinID
	// groups are the manager's KV-cache groups: the engine writes each position into
	// every group's block (fingerprint ^ gmix(g)), and a windowed group's positions
	// before its window are not read back.
	groups []KVGroup

	slots []int64 // scratch
	fpBuf []uint64
	evBuf []Event
	order []int32
}

// note records the current operation and its arguments without formatting them.
func (f *fuzzer) note(what string, args ...int) {
	f.what = what
	f.narg = copy(f.args[:], args)
}

// digest fingerprints the manager's whole state (see digest).
func (f *fuzzer) digest() uint64 { return digest(f.m, &f.order) }

func (f *fuzzer) fatalf(format string, args ...any) {
	f.t.Helper()
	f.t.Fatalf("step %d (%s %v): %s", f.step, f.what, f.args[:f.narg], fmt.Sprintf(format, args...))
}

func (f *fuzzer) next() int {
	if f.pos >= len(f.data) {
		return 0
	}
	f.pos++
	return int(f.data[f.pos-1])
}

// extremes are the integers every count parameter is tried with.
var extremes = []int{0, -1, 1, math.MinInt, math.MaxInt, math.MaxInt - 40, MaxSeqLen, MaxSeqLen + 1, -MaxSeqLen}

// num returns a value in [0, small) most of the time and an extreme otherwise.
func (f *fuzzer) num(small int) int {
	if b := f.next(); b < 232 {
		return b % max(1, small)
	} else {
		return extremes[b%len(extremes)]
	}
}

func (f *fuzzer) pick() (*modelSeq, int) {
	if len(f.seqs) == 0 {
		return nil, -1
	}
	i := f.next() % len(f.seqs)
	return f.seqs[i], i
}

// pickWhere picks, three times in four, among the sequences for which ok holds (so
// operations mostly meet sequences in a state where they can succeed), otherwise
// among all.
func (f *fuzzer) pickWhere(ok func(*modelSeq) bool) (*modelSeq, int) {
	if f.next()%4 != 0 {
		var idx []int
		for i, s := range f.seqs {
			if ok(s) {
				idx = append(idx, i)
			}
		}
		if len(idx) > 0 {
			i := idx[f.next()%len(idx)]
			return f.seqs[i], i
		}
	}
	return f.pick()
}

func pending(s *modelSeq) bool   { return !s.swapped && s.reserved > s.computed }
func unstarted(s *modelSeq) bool { return !s.started && !s.swapped }
func ready(s *modelSeq) bool     { return s.started && !s.swapped && s.computed == len(s.tokens) }
func onDevice(s *modelSeq) bool  { return s.started && !s.swapped }
func swapped(s *modelSeq) bool   { return s.swapped }

func (f *fuzzer) opts(salt int) SeqOptions {
	return SeqOptions{CacheSalt: []string{"", "a", "b"}[salt]}
}

// perform performs a copy list in list order, each copy between the tiers its Dir
// names, as an engine would.
func (f *fuzzer) perform(copies []BlockCopy) {
	for _, c := range copies {
		src, dst := f.kv, f.kv
		switch c.Dir {
		case DeviceToHost:
			dst = f.host
		case HostToDevice:
			src = f.host
		case DeviceToDevice:
		default:
			f.fatalf("copy %+v has no direction", c)
		}
		copy(dst[int(c.Dst)*f.bs:int(c.Dst+1)*f.bs], src[int(c.Src)*f.bs:int(c.Src+1)*f.bs])
	}
}

func (f *fuzzer) slotsOf(s *modelSeq, from, to int) []int64 {
	var err error
	f.slots, err = f.m.SlotMapping(s.id, from, to, f.slots[:0])
	if err != nil {
		f.fatalf("SlotMapping(%d, %d, %d): %v", s.id, from, to, err)
	}
	return f.slots
}

// scribble writes garbage into positions [from, to) of s, as an engine writing draft
// or not-yet-valid KV into reserved slots would.
func (f *fuzzer) scribble(s *modelSeq, from, to int) {
	for g := range f.groups {
		for _, sl := range f.slotsOfG(s, g, from, to) {
			f.kv[sl] = 2 // even: never a fingerprint
		}
	}
}

func (f *fuzzer) write(s *modelSeq, from, to int) {
	f.fpBuf = s.fps(f.fpBuf[:0], to)
	for g := range f.groups {
		for i, sl := range f.slotsOfG(s, g, from, to) {
			f.kv[sl] = f.fpBuf[from+i] ^ gmix(g)
		}
	}
	f.recordTruth(s, from, to, f.fpBuf)
}

// reserved models the engine after a reservation of n tokens plus la lookahead
// slots at computed: it writes garbage into the slots, or, with RegisterAtReserve,
// computes the known tokens among them right away (they may be shared from now on:
// vLLM's premise) and writes garbage into the slots past the tokens only.
func (f *fuzzer) reserved(s *modelSeq, n, la int) {
	if f.m.cfg.RegisterAtReserve {
		known := min(s.computed+n+la, len(s.tokens))
		f.write(s, s.computed, known)
		f.scribble(s, known, s.computed+n+la)
		return
	}
	f.scribble(s, s.computed, s.computed+n+la)
}

// checkSeq compares one sequence's counters with the model and, on the device, reads
// back every computed position's KV.
func (f *fuzzer) checkSeq(s *modelSeq) {
	st, err := f.m.State(s.id)
	if err != nil {
		f.fatalf("State(%d): %v", s.id, err)
	}
	if st.Tokens != len(s.tokens) || st.Computed != s.computed || st.Reserved != s.reserved ||
		st.Started != s.started || st.Swapped != s.swapped {
		f.fatalf("seq %d state %+v, model tokens %d computed %d reserved %d started %v swapped %v",
			s.id, st, len(s.tokens), s.computed, s.reserved, s.started, s.swapped)
	}
	if s.swapped {
		return
	}
	released := 0
	for g := range f.groups {
		released += f.liveFrom(s, g)
	}
	if st.Released != released {
		f.fatalf("seq %d state %+v, model: %d released entries", s.id, st, released)
	}
	f.fpBuf = s.fps(f.fpBuf[:0], s.computed)
	for g := range f.groups {
		live := f.liveFrom(s, g)
		if len(f.groups) > 1 || live > 0 { // the window released exactly the blocks before live
			tb, err := f.m.BlockTableGroup(s.id, g, nil)
			if err != nil {
				f.fatalf("BlockTableGroup(%d, %d): %v", s.id, g, err)
			}
			for j, b := range tb {
				if (j < live) != (b == NullBlock) || b < NullBlock {
					f.fatalf("seq %d group %d: table %v, model: blocks from %d (computed %d)", s.id, g, tb, live, s.computed)
				}
			}
		}
		for p, sl := range f.slotsOfG(s, g, min(live*f.bs, s.computed), s.computed) {
			if p += live * f.bs; f.kv[sl] != f.fpBuf[p]^gmix(g) {
				f.fatalf("seq %d group %d position %d reads wrong KV (slot %d)", s.id, g, p, sl)
			}
		}
	}
}

// fullCheck verifies every invariant, every sequence and the event view.
func (f *fuzzer) fullCheck() {
	if err := f.m.CheckInvariants(); err != nil {
		f.fatalf("invariants: %v", err)
	}
	for _, s := range f.seqs {
		f.checkSeq(s)
	}
	if n := f.m.NumSequences(); n != len(f.seqs) {
		f.fatalf("NumSequences %d, model %d", n, len(f.seqs))
	}
	f.drainEvents()
	if f.rec != nil && f.sync {
		if err := f.rec.matches(f.m); err != nil {
			f.fatalf("event view: %v", err)
		}
	}
	f.checkTruth()
}

// drainEvents takes the queued events; a loss desynchronises the consumer until the
// next AllBlocksCleared.
func (f *fuzzer) drainEvents() {
	var lost uint64
	f.evBuf, lost = f.m.TakeEvents(f.evBuf[:0])
	if f.rec == nil {
		if len(f.evBuf) > 0 || lost > 0 {
			f.fatalf("events with events disabled")
		}
		return
	}
	for i, e := range f.evBuf {
		if e.Kind == AllBlocksCleared {
			f.rec.err, f.sync = nil, true
		}
		if f.sync {
			f.rec.apply(f.evBuf[i : i+1])
		}
	}
	if f.sync && f.rec.err != nil {
		f.fatalf("event stream: %v", f.rec.err)
	}
	if lost > 0 {
		f.sync = false
	}
}

// resync rebuilds the consumer's view, in sync or not, from ResyncEvents (events
// off: nothing is appended), and checks it equals the cache.
func (f *fuzzer) resync() {
	f.note("resync")
	before := f.digest()
	evs := f.m.ResyncEvents(f.evBuf[:0])
	if f.digest() != before {
		f.fatalf("ResyncEvents changed the manager")
	}
	if f.rec == nil {
		if len(evs) != 0 {
			f.fatalf("ResyncEvents with events disabled: %d events", len(evs))
		}
		return
	}
	f.evBuf = evs
	if len(evs) == 0 || evs[0].Kind != AllBlocksCleared {
		f.fatalf("ResyncEvents does not start with AllBlocksCleared: %d events", len(evs))
	}
	f.rec.err = nil
	f.rec.apply(evs)
	if err := f.rec.err; err != nil {
		f.fatalf("resync events: %v", err)
	}
	if err := f.rec.matches(f.m); err != nil {
		f.fatalf("view after resync: %v", err)
	}
	f.sync = true
	if q := f.m.Stats().EventsQueued; q != 0 {
		f.fatalf("%d events queued after ResyncEvents", q)
	}
}

// expectErr checks err against the sentinels the model allows (none: success is
// required) and, when err is not nil and before is a digest (not 0), that nothing
// changed since it was taken.
func (f *fuzzer) expectErr(err error, before uint64, allowed ...error) bool {
	if err == nil {
		if len(allowed) > 0 && !slicesContainsNil(allowed) {
			f.fatalf("succeeded, want one of %v", allowed)
		}
		return false
	}
	ok := false
	for _, a := range allowed {
		if a != nil && errors.Is(err, a) {
			ok = true
		}
	}
	if !ok {
		f.fatalf("error %v, want one of %v", err, allowed)
	}
	if before != 0 && f.digest() != before {
		f.fatalf("failed call (%v) changed the manager", err)
	}
	return true
}

func slicesContainsNil(errs []error) bool {
	for _, e := range errs {
		if e == nil {
			return true
		}
	}
	return false
}

// constHasher makes every block hash collide; hits must still be correct.
type constHasher struct{}

func (constHasher) Sum([]byte) prefixHash { return 42 }
