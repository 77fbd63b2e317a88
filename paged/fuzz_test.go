package paged

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/stretchr/testify/require"
)

// The fuzzer drives the Manager with random operations (valid and invalid) and checks
// it against a small reference model plus a simulated KV store:
//   - the model predicts which calls are invalid and every sequence's counters;
//   - the KV store plays the engine: it performs copy-on-write copies, scribbles over
//     freshly reserved slots (as an engine writing drafts would) and writes, at
//     MarkComputed, a fingerprint of the sequence's whole prefix into each slot.
//     After every step, every computed position of every live sequence must read its
//     own prefix fingerprint through the block table. This catches wrong prefix hits,
//     missed copies and writes into shared blocks, whatever the block ids are.
//   - a call that fails with ErrNoSpace must leave tables, counters and the free queue
//     exactly as they were;
//   - CheckInvariants holds after every step, and freeing everything returns the pool
//     to NumBlocks free blocks.

type modelSeq struct {
	id       SeqID
	tokens   []int32
	computed int
	reserved int
	started  bool
	swapped  bool
	salt     int
}

// fp is the fingerprint of the prefix tokens[0..p] under salt.
func (s *modelSeq) fp(p int) uint64 {
	h := uint64(1469598103934665603) ^ uint64(s.salt)
	for _, t := range s.tokens[:p+1] {
		h = (h ^ uint64(uint32(t))) * 1099511628211
	}
	return h | 1 // 0 means "never written"
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
}

func (f *fuzzer) next() int {
	if f.pos >= len(f.data) {
		return 0
	}
	f.pos++
	return int(f.data[f.pos-1])
}

func (f *fuzzer) pick() (*modelSeq, int) {
	if len(f.seqs) == 0 {
		return nil, -1
	}
	i := f.next() % len(f.seqs)
	return f.seqs[i], i
}

func (f *fuzzer) opts(salt int) SeqOptions {
	return SeqOptions{CacheSalt: []string{"", "a", "b"}[salt]}
}

func (f *fuzzer) copyBlocks(copies []BlockCopy) {
	for _, c := range copies {
		copy(f.kv[int(c.Dst)*f.bs:int(c.Dst+1)*f.bs], f.kv[int(c.Src)*f.bs:int(c.Src+1)*f.bs])
	}
}

// scribble writes garbage into positions [from, to) of s, as an engine writing draft
// or not-yet-valid KV into reserved slots would.
func (f *fuzzer) scribble(s *modelSeq, from, to int) {
	slots, err := f.m.SlotMapping(s.id, from, to, nil)
	require.NoError(f.t, err)
	for _, sl := range slots {
		f.kv[sl] = 2 // even: never a fingerprint
	}
}

func (f *fuzzer) write(s *modelSeq, from, to int) {
	slots, err := f.m.SlotMapping(s.id, from, to, nil)
	require.NoError(f.t, err)
	for i, sl := range slots {
		f.kv[sl] = s.fp(from + i)
	}
}

type snapshot struct {
	free   []int32
	tables [][]int32
	states []SeqState
	stats  Stats
}

func (f *fuzzer) snap() snapshot {
	s := snapshot{free: freeOrder(f.m), stats: f.m.Stats()}
	for _, q := range f.seqs {
		var tb []int32
		if !q.swapped {
			tb = table(f.t, f.m, q.id)
		}
		s.tables = append(s.tables, tb)
		st, _ := f.m.State(q.id)
		s.states = append(s.states, st)
	}
	return s
}

func (f *fuzzer) check(step int, what string) {
	t := f.t
	require.NoError(t, f.m.CheckInvariants(), "step %d %s", step, what)
	for _, s := range f.seqs {
		st, err := f.m.State(s.id)
		require.NoError(t, err)
		require.Equal(t, SeqState{Tokens: len(s.tokens), Computed: s.computed, Reserved: s.reserved,
			Blocks: st.Blocks, Cached: st.Cached, Started: s.started, Swapped: s.swapped, Frontier: st.Frontier}, st, "step %d %s", step, what)
		if s.swapped {
			continue
		}
		slots, err := f.m.SlotMapping(s.id, 0, s.computed, nil)
		require.NoError(t, err)
		for p, sl := range slots {
			require.Equal(t, s.fp(p), f.kv[sl], "step %d %s: seq %d position %d reads wrong KV", step, what, s.id, p)
		}
	}
}

func (f *fuzzer) expectNoSpace(err error, before snapshot, step int) bool {
	if errors.Is(err, ErrNoSpace) {
		require.Equal(f.t, before, f.snap(), "step %d: ErrNoSpace must change nothing", step)
		return true
	}
	return false
}

func runFuzz(t testing.TB, data []byte) {
	if len(data) < 3 {
		return
	}
	n, bs := 1+int(data[0])%24, 1+int(data[1])%6
	flags := data[2]
	m := newMgr(t, n, bs, func(c *Config) {
		c.DisablePrefixCaching = flags&1 != 0
		if flags&2 != 0 {
			c.ReleasePolicy = blockpool.AllToTail{}
		}
		if flags&4 != 0 {
			c.Hasher = constHasher{} // every block collides
		}
		if flags&8 != 0 {
			c.Events = EventOptions{Enabled: true}
		}
		if flags&16 != 0 {
			c.HostBlocks = n
		}
	})
	f := &fuzzer{t: t, m: m, bs: bs, kv: make([]uint64, n*bs), host: make([]uint64, n*bs), data: data, pos: 3}
	for step := 0; f.pos < len(data) && step < 400; step++ {
		op := f.next() % 12
		before := f.snap()
		what := ""
		switch op {
		case 0: // Add
			l, salt := f.next()%(3*bs+3), f.next()%3
			prompt := make([]int32, l)
			for i := range prompt {
				prompt[i] = int32(f.next() % 3)
			}
			what = fmt.Sprintf("add len %d salt %d", l, salt)
			id, err := m.Add(prompt, f.opts(salt))
			if l == 0 {
				require.True(t, errors.Is(err, ErrInvalidArgument))
				break
			}
			require.NoError(t, err)
			f.seqs = append(f.seqs, &modelSeq{id: id, tokens: prompt, salt: salt})
		case 1: // Reserve
			s, _ := f.pick()
			if s == nil {
				break
			}
			k, la := f.next()%(2*bs+2), f.next()%3
			if r := f.next(); r < 200 { // mostly valid sizes
				k = min(k, len(s.tokens)-s.computed)
				if !s.started {
					k = len(s.tokens) - r%(len(s.tokens)+1)
				}
			}
			what = fmt.Sprintf("reserve %d+%d on %d", k, la, s.id)
			res, err := m.Reserve(s.id, k, la, nil)
			if s.swapped {
				require.True(t, errors.Is(err, ErrSwapped), "%v", err)
				break
			}
			if k+la == 0 || s.computed+k > len(s.tokens) {
				require.True(t, errors.Is(err, ErrInvalidArgument), "%v", err)
				require.Equal(t, before, f.snap())
				break
			}
			if f.expectNoSpace(err, before, step) {
				break
			}
			require.NoError(t, err)
			if !s.started {
				require.Zero(t, res.Claimed%bs)
				require.LessOrEqual(t, res.Claimed, len(s.tokens)-max(k, 1))
				s.started, s.computed = true, res.Claimed
				if m.cfg.DisablePrefixCaching {
					require.Zero(t, res.Claimed)
				}
			} else {
				require.Zero(t, res.Claimed)
			}
			require.Equal(t, s.computed, res.Start)
			f.copyBlocks(res.Copies)
			s.reserved = max(s.reserved, s.computed+k+la)
			f.scribble(s, s.computed, s.computed+k+la)
		case 2: // Append
			s, _ := f.pick()
			if s == nil {
				break
			}
			k := f.next() % 3
			add := make([]int32, k)
			for i := range add {
				add[i] = int32(f.next() % 3)
			}
			what = fmt.Sprintf("append %v to %d", add, s.id)
			require.NoError(t, m.Append(s.id, add...))
			s.tokens = append(s.tokens, add...)
		case 3: // MarkComputed
			s, _ := f.pick()
			if s == nil {
				break
			}
			k := f.next() % (2*bs + 1)
			if f.next() < 200 { // mostly valid
				k = min(k, s.reserved-s.computed, len(s.tokens)-s.computed)
			}
			what = fmt.Sprintf("mark %d on %d", k, s.id)
			err := m.MarkComputed(s.id, k)
			if s.swapped {
				require.True(t, errors.Is(err, ErrSwapped), "%v", err)
				break
			}
			if s.computed+k > s.reserved || s.computed+k > len(s.tokens) {
				require.True(t, errors.Is(err, ErrInvalidArgument), "%v", err)
				break
			}
			require.NoError(t, err)
			f.write(s, s.computed, s.computed+k)
			s.computed += k
		case 4: // Fork
			s, _ := f.pick()
			if s == nil {
				break
			}
			what = fmt.Sprintf("fork %d", s.id)
			id, err := m.Fork(s.id)
			if s.swapped {
				require.True(t, errors.Is(err, ErrSwapped), "%v", err)
				break
			}
			require.NoError(t, err)
			c := *s
			c.id, c.tokens = id, slices.Clone(s.tokens)
			s.reserved, c.reserved = s.computed, s.computed
			f.seqs = append(f.seqs, &c)
		case 5: // Free
			s, i := f.pick()
			if s == nil {
				break
			}
			what = fmt.Sprintf("free %d", s.id)
			require.NoError(t, m.Free(s.id))
			f.seqs = slices.Delete(f.seqs, i, i+1)
			f.dead = append(f.dead, s.id)
		case 6: // Rollback
			s, _ := f.pick()
			if s == nil {
				break
			}
			k := f.next() % 4
			what = fmt.Sprintf("rollback %d on %d", k, s.id)
			err := m.Rollback(s.id, k)
			if s.swapped {
				require.True(t, errors.Is(err, ErrSwapped), "%v", err)
				break
			}
			if k >= len(s.tokens) {
				require.True(t, errors.Is(err, ErrInvalidArgument))
				break
			}
			require.NoError(t, err)
			s.tokens = s.tokens[:len(s.tokens)-k]
			s.computed = min(s.computed, len(s.tokens))
			s.reserved = s.computed
		case 7: // DecodeStep over a subset
			mask, la := f.next(), f.next()%2
			var batch []*modelSeq
			var ids []SeqID
			var tks []int32
			valid := true
			for i, s := range f.seqs {
				if i < 8 && mask&(1<<i) != 0 {
					batch = append(batch, s)
					ids = append(ids, s.id)
					tks = append(tks, int32(f.next()%3))
					valid = valid && s.started && !s.swapped && s.computed == len(s.tokens)
				}
			}
			if len(ids) > 0 && f.next()%8 == 0 { // sometimes repeat an id
				ids = append(ids, ids[0])
				tks = append(tks, 0)
				valid = false
			}
			what = fmt.Sprintf("decode %v la %d", ids, la)
			slots := make([]int64, len(ids))
			copies, err := m.DecodeStep(ids, tks, la, slots, nil)
			if !valid {
				require.True(t, errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrSwapped), "%v", err)
				require.Equal(t, before, f.snap())
				break
			}
			if f.expectNoSpace(err, before, step) {
				break
			}
			require.NoError(t, err)
			f.copyBlocks(copies)
			for i, s := range batch {
				s.tokens = append(s.tokens, tks[i])
				s.reserved = max(s.reserved, s.computed+1+la)
				f.scribble(s, s.computed, s.computed+1+la)
				want, _ := m.SlotMapping(s.id, s.computed, s.computed+1, nil)
				require.Equal(t, want[0], slots[i])
			}
		case 8: // Reset
			what = "reset"
			err := m.ResetPrefixCache()
			if m.Pool().NumFree() != n {
				require.True(t, errors.Is(err, ErrCacheInUse))
			} else {
				require.NoError(t, err)
				require.Zero(t, m.Pool().NumCached())
			}
		case 10: // SwapOut
			s, _ := f.pick()
			if s == nil {
				break
			}
			what = fmt.Sprintf("swap out %d", s.id)
			var slots []int64
			if !s.swapped {
				slots, _ = m.SlotMapping(s.id, 0, s.computed, nil)
			}
			copies, err := m.SwapOut(s.id, nil)
			switch {
			case s.swapped:
				require.True(t, errors.Is(err, ErrSwapped), "%v", err)
			case m.cfg.HostBlocks == 0:
				require.True(t, errors.Is(err, ErrNoHostTier), "%v", err)
			case f.expectNoSpace(err, before, step):
			default:
				require.NoError(t, err)
				for _, c := range copies {
					copy(f.host[int(c.Dst)*bs:int(c.Dst+1)*bs], f.kv[int(c.Src)*bs:int(c.Src+1)*bs])
				}
				require.Len(t, copies, (s.computed+bs-1)/bs)
				for j, c := range copies { // block j of the table, in order
					require.Equal(t, int32(slots[j*bs]/int64(bs)), c.Src)
				}
				s.swapped, s.reserved = true, s.computed
			}
		case 11: // SwapIn
			s, _ := f.pick()
			if s == nil {
				break
			}
			what = fmt.Sprintf("swap in %d", s.id)
			copies, err := m.SwapIn(s.id, nil)
			switch {
			case !s.swapped:
				require.True(t, errors.Is(err, ErrInvalidArgument), "%v", err)
			case f.expectNoSpace(err, before, step):
			default:
				require.NoError(t, err)
				for _, c := range copies {
					copy(f.kv[int(c.Dst)*bs:int(c.Dst+1)*bs], f.host[int(c.Src)*bs:int(c.Src+1)*bs])
				}
				s.swapped = false
			}
		case 9: // lookups, and calls on dead ids
			if s, _ := f.pick(); s != nil {
				what = "lookup"
				c, err := m.CachedPrefix(s.id)
				require.NoError(t, err)
				require.Zero(t, c%bs)
				require.Less(t, c, len(s.tokens))
				c2, err := m.LookupPrompt(s.tokens, f.opts(s.salt))
				require.NoError(t, err)
				require.Equal(t, c, c2)
				require.Equal(t, before, f.snap(), "lookups have no side effects")
			}
			if len(f.dead) > 0 {
				d := f.dead[f.next()%len(f.dead)]
				_, err := m.Reserve(d, 1, 0, nil)
				require.True(t, errors.Is(err, ErrUnknownSequence))
				require.True(t, errors.Is(m.Free(d), ErrUnknownSequence))
				_, err = m.Fork(d)
				require.True(t, errors.Is(err, ErrUnknownSequence))
			}
		}
		f.check(step, what)
	}
	for _, s := range f.seqs {
		require.NoError(t, m.Free(s.id))
	}
	require.Equal(t, n, m.Stats().FreeBlocks)
	require.NoError(t, m.CheckInvariants())
}

// constHasher makes every block hash collide; hits must still be correct.
type constHasher struct{}

func (constHasher) Sum([]byte) prefixHash { return 42 }

func FuzzManager(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runFuzz(t, data) })
}

// fuzzSeeds are deterministic pseudo-random scripts; the committed corpus in
// testdata/fuzz adds more.
func fuzzSeeds() [][]byte {
	var out [][]byte
	x := uint32(2463534242)
	for i := range 40 {
		b := make([]byte, 600)
		for j := range b {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			b[j] = byte(x)
		}
		b[2] = byte(i % 32) // every flag combination
		out = append(out, b)
	}
	return out
}

func TestRandomOperations(t *testing.T) {
	for i, seed := range fuzzSeeds() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { runFuzz(t, seed) })
	}
}
