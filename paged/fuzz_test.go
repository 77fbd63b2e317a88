package paged

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
)

// Config flags, data[2].
const (
	flagNoCaching = 1 << iota // DisablePrefixCaching
	flagAllToTail             // AllToTail release policy
	flagCollide               // every block hash collides
	flagEvents                // event queue on, checked by a consumer
	flagHost                  // a host tier of NumBlocks blocks
	flagDistinct              // events per distinct hash
	flagTinyQueue             // an event queue of 3 events (losses and resyncs)
	flagWatermark             // watermark 0.2 (AdmitLater / AdmitNever happen)
)

// Extended flags, data[3] of FuzzTiers inputs.
const (
	xWriteBack     = 1 << iota // host prefix cache, write-back (with xWriteThrough: write-through)
	xWriteThrough              // host prefix cache, write-through
	xPriority                  // random priorities and durations, SetClock
	xPartial                   // PartialBlockReuse
	xRegisterEarly             // RegisterAtReserve
	xDupParents                // MatchDuplicateParents
	xDropLast                  // DropLastHitBlock
	xSelective                 // HostCache.MinHits 2 and MinPriority 1
)

func runFuzz(t testing.TB, data []byte, tiers bool) { runFuzzGroups(t, data, tiers, false) }

// runFuzzGroups is runFuzz; with groups, data[3] chooses KV-cache groups
// (fuzzGroupSet) and the host tier is off.
func runFuzzGroups(t testing.TB, data []byte, tiers, groups bool) {
	if len(data) < 3 || (tiers || groups) && len(data) < 4 {
		return
	}
	n, bs := 1+int(data[0])%24, 1+int(data[1])%6
	if data[0] < 128 { // small pools half the time: evictions and ErrNoSpace
		n = 1 + int(data[0])%8
	}
	flags, ext, pos := data[2], byte(0), 3
	if tiers {
		ext, pos = data[3], 4
	}
	var gs []KVGroup
	if groups {
		gs, pos = fuzzGroupSet(data[3], bs), 4
		n *= len(gs) // each group holds its own blocks
	}
	m := newMgr(t, n, bs, func(c *Config) {
		c.DisablePrefixCaching = flags&flagNoCaching != 0
		if flags&flagAllToTail != 0 {
			c.ReleasePolicy = AllToTail{}
		}
		if flags&flagCollide != 0 {
			c.Hasher = constHasher{}
		}
		if flags&flagEvents != 0 {
			c.Events = EventOptions{Enabled: true, PerDistinctHash: flags&flagDistinct != 0}
			if flags&flagTinyQueue != 0 {
				c.Events.QueueSize = 3
			}
		}
		if flags&flagHost != 0 {
			c.HostBlocks = n
		}
		if flags&flagWatermark != 0 {
			c.Watermark = 0.2
		}
		if ext&(xWriteBack|xWriteThrough) != 0 {
			c.DisablePrefixCaching = false
			c.HostBlocks = 3 * n
			c.HostCache.Policy = WriteBack
			if ext&xWriteThrough != 0 {
				c.HostCache.Policy = WriteThrough
			}
			if ext&xSelective != 0 {
				c.HostCache.MinHits, c.HostCache.MinPriority = 2, 1
			}
		}
		c.PartialBlockReuse = ext&xPartial != 0
		c.RegisterAtReserve = ext&xRegisterEarly != 0
		c.MatchDuplicateParents = ext&xDupParents != 0
		c.DropLastHitBlock = ext&xDropLast != 0
		if gs != nil {
			c.Groups, c.HostBlocks = gs, 0
			c.MatchDuplicateParents = flags&flagHost != 0 // the host flag's bit, reused
			c.GroupedEviction = data[1]&0x80 != 0         // the block size's high bit
		}
	})
	f := &fuzzer{t: t, m: m, bs: bs, kv: make([]uint64, n*bs), host: make([]uint64, max(1, m.cfg.HostBlocks)*bs), data: data, pos: pos,
		ext: ext, tiers: tiers, truth: map[uint64]bool{}, groups: m.Groups()}
	table := &opTable
	if tiers {
		table = &tierOpTable
	}
	if flags&flagEvents != 0 {
		f.rec, f.sync = newRecorder(flags&flagDistinct != 0), true
		f.rec.windowed = map[int]bool{}
		for g, k := range f.groups {
			f.rec.windowed[g] = k.Kind != FullAttention
		}
	}
	for f.step = 0; f.pos < len(data) && f.step < maxOps; f.step++ {
		f.op(int(table[f.next()]))
		if f.step%fullCheckEvery == fullCheckEvery-1 {
			f.fullCheck()
		}
	}
	f.note("end")
	f.fullCheck()
	if runFuzzHook != nil {
		runFuzzHook(m)
	}
	for _, p := range f.pins {
		if err := m.Unpin(p); err != nil {
			f.fatalf("Unpin: %v", err)
		}
	}
	for _, s := range f.seqs {
		if err := m.Free(s.id); err != nil {
			f.fatalf("Free: %v", err)
		}
	}
	if st := m.Stats(); st.FreeBlocks != n || (f.m.host != nil && st.HostFree != m.cfg.HostBlocks) {
		f.fatalf("after freeing everything: %+v", st)
	}
	if err := m.CheckInvariants(); err != nil {
		f.fatalf("invariants: %v", err)
	}
}

// runFuzzHook, if set, sees each run's manager at its end (tests that measure what
// the fuzzer exercises).
var runFuzzHook func(*Manager)

// opTable maps an input byte to an operation with weights that keep sequences
// moving through their lives (add, admit, compute, decode) rather than failing.
var opTable = func() (t [256]uint8) {
	weights := [16]int{
		0: 24, 1: 20, 2: 8, 3: 32, 4: 12, 5: 24, 6: 8, 7: 32, // add reserve append mark fork free rollback decode
		8: 4, 9: 8, 10: 10, 11: 10, 12: 28, 13: 16, 14: 10, 15: 10, // reset lookups swapout swapin admit markbatch reads take
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

func (f *fuzzer) op(op int) {
	m, bs := f.m, f.bs
	switch op {
	case 0: // Add, with full-range options
		l, salt := f.next()%(3*bs+3), f.next()%3
		if f.tiers {
			l = f.next() % (5*bs + 3)
		}
		prompt := make([]int32, 0, l)
		if base, _ := f.pick(); base != nil && f.next()%2 == 0 { // share a prefix: hits
			prompt = append(prompt, base.tokens[:min(l, len(base.tokens))]...)
			salt = slices.Index([]string{"", "a", "b"}, base.opts.CacheSalt)
		} else if f.tiers && len(f.history) > 0 && f.next()%2 == 0 { // come back: host hits
			base := f.history[f.next()%len(f.history)]
			prompt = append(prompt, base.tokens[:min(l, len(base.tokens))]...)
			salt = slices.Index([]string{"", "a", "b"}, base.opts.CacheSalt)
		}
		for len(prompt) < l {
			prompt = append(prompt, int32(f.next()%3))
		}
		opts := f.opts(salt)
		bad := l == 0
		if f.next()%8 == 0 {
			opts.Capacity = f.num(4 * bs)
			bad = bad || opts.Capacity < 0 || opts.Capacity > MaxSeqLen
		}
		if f.ext&xPriority != 0 && f.next()%2 == 0 {
			opts.Priority, opts.PriorityDuration = f.num(2*MaxPriority+1)-MaxPriority, int64(f.num(6))
			bad = bad || opts.Priority < MinPriority || opts.Priority > MaxPriority || opts.PriorityDuration < 0 || opts.PriorityDuration > MaxTime
		}
		if f.next()%8 == 0 {
			it := prefix.MMItem{Offset: f.num(l + 1), Length: f.num(l + 1)}
			it.ID = fmt.Sprint("img", it.Length) // an id names content, so its length too
			opts.MM = []prefix.MMItem{it}
			bad = bad || it.Offset < 0 || it.Length < 1 || it.Offset > l || it.Length > l-it.Offset
		}
		f.note("add len, capacity, items", l, opts.Capacity, len(opts.MM))
		c1, err1 := m.LookupPrompt(prompt, opts)
		id, err := m.Add(prompt, opts)
		if bad {
			f.expectErr(err, 0, ErrInvalidArgument)
			if l > 0 {
				f.expectErr(err1, 0, ErrInvalidArgument)
			}
			return
		}
		f.expectErr(err, 0)
		f.expectErr(err1, 0)
		s := &modelSeq{id: id, tokens: prompt, opts: opts}
		if c2, _ := m.CachedPrefix(id); c2 != c1 {
			f.fatalf("LookupPrompt %d, CachedPrefix %d", c1, c2)
		}
		f.seqs = append(f.seqs, s)
	case 1: // Reserve
		f.reserve()
	case 2: // Append
		s, _ := f.pick()
		if s == nil {
			return
		}
		add := make([]int32, f.next()%3)
		for i := range add {
			add[i] = int32(f.next() % 3)
		}
		f.note("append n to id", len(add), int(s.id))
		f.expectErr(m.Append(s.id, add...), 0)
		s.tokens = append(s.tokens, add...)
	case 3: // MarkComputed
		s, _ := f.pickWhere(pending)
		if s == nil {
			return
		}
		k := f.num(2*bs + 1)
		if f.next() < 200 { // mostly valid
			k = max(0, min(k, s.reserved-s.computed, len(s.tokens)-s.computed))
		}
		f.note("mark id, n", int(s.id), k)
		f.mark(s, k)
	case 4: // Fork
		s, _ := f.pickWhere(onDevice)
		if s == nil {
			return
		}
		f.note("fork", int(s.id))
		id, err := m.Fork(s.id)
		if s.swapped {
			f.expectErr(err, 0, ErrSwapped)
			return
		}
		f.expectErr(err, 0)
		c := *s
		c.id, c.tokens = id, slices.Clone(s.tokens)
		s.reserved, c.reserved = s.computed, s.computed
		f.seqs = append(f.seqs, &c)
		f.checkSeq(s)
		f.checkSeq(&c)
	case 5: // Free
		s, i := f.pick()
		if s == nil {
			return
		}
		f.note("free", int(s.id))
		f.checkSeq(s) // its KV was intact until now
		f.expectErr(m.Free(s.id), 0)
		f.seqs = slices.Delete(f.seqs, i, i+1)
		if f.tiers {
			f.history = append(f.history, s)
		}
		f.dead = append(f.dead, s.id)
	case 6: // Rollback
		s, _ := f.pick()
		if s == nil {
			return
		}
		k := f.num(4)
		f.note("rollback n on id", k, int(s.id))
		f.checkSeq(s)
		before := f.digest()
		err := m.Rollback(s.id, k)
		switch {
		case s.swapped:
			f.expectErr(err, before, ErrSwapped)
		case k < 0 || k >= len(s.tokens) || f.rollbackBlocked(s, min(s.computed, len(s.tokens)-k)):
			f.expectErr(err, before, ErrInvalidArgument)
		default:
			f.expectErr(err, 0)
			s.tokens = s.tokens[:len(s.tokens)-k]
			s.computed = min(s.computed, len(s.tokens))
			s.reserved = s.computed
			s.relAt = min(s.relAt, s.computed)
		}
	case 7: // DecodeStep over a subset
		f.decode()
	case 8: // ResetPrefixCache
		f.note("reset")
		st := m.Stats()
		err := m.ResetPrefixCache()
		if st.UsedBlocks > 0 {
			f.expectErr(err, 0, ErrCacheInUse)
		} else {
			f.expectErr(err, 0)
			if m.Stats().CachedBlocks != 0 {
				f.fatalf("cache not empty after reset")
			}
		}
	case 9: // side-effect-free questions, and every method on a dead id
		f.lookups()
	case 10: // SwapOut
		f.swapOut()
	case 11: // SwapIn
		f.swapIn()
	case 12: // Admit
		f.admit()
	case 13: // MarkComputedBatch over a subset
		batch, ids, dup := f.subset(pending)
		k := f.num(bs + 1)
		if f.next() < 200 {
			for _, s := range batch {
				k = max(0, min(k, s.reserved-s.computed, len(s.tokens)-s.computed))
			}
		}
		if dup {
			ids = append(ids, ids[0])
		}
		f.note("mark batch n, batch", k, len(ids))
		f.markIDs(batch, ids, k, dup)
	case 14: // batched reads and block observation, with full-range arguments
		f.reads()
	case 15: // drain events, sometimes rebuilding the consumer's view (ResyncEvents)
		f.note("take events")
		f.drainEvents()
		if f.next()%4 == 0 {
			f.resync()
		}
	case 16:
		f.pin()
	case 17:
		f.unpin()
	case 18:
		f.clock()
	case 19:
		f.tierQuestions()
	case 20:
		f.turn()
	}
}

func FuzzManager(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runFuzz(t, data, false) })
}

func TestRandomOperations(t *testing.T) {
	for i, seed := range fuzzSeeds() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { runFuzz(t, seed, false) })
	}
}

// BenchmarkFuzzExec runs the seed scripts: ns/op is one fuzzer execution (one
// input), the figure that decides how many inputs a fuzzing minute explores.
func BenchmarkFuzzExec(b *testing.B) {
	seeds := fuzzSeeds()
	i := 0
	for b.Loop() {
		runFuzz(b, seeds[i%len(seeds)], false)
		i++
	}
}
