package paged

import (
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

func sw(w int) KVGroup      { return KVGroup{Kind: SlidingWindow, Window: w} }
func chunked(c int) KVGroup { return KVGroup{Kind: ChunkedLocal, Window: c} }
func fullGroup() KVGroup    { return KVGroup{Kind: FullAttention} }

// newHybrid builds a manager with n blocks of bs tokens and the given groups, no
// watermark.
func newHybrid(t testing.TB, n, bs int, groups ...KVGroup) *Manager {
	t.Helper()
	return newMgr(t, n, bs, func(c *Config) { c.Groups, c.Watermark, c.DisableWatermark = groups, 0, true })
}

func tableG(t testing.TB, m *Manager, id SeqID, g int) []int32 {
	t.Helper()
	tb, err := m.BlockTableGroup(id, g, nil)
	require.NoError(t, err)
	return tb
}

// admitAll admits a prompt in one chunk and marks it computed; it returns the id and
// the cached tokens.
func admitWhole(t testing.TB, m *Manager, prompt []int32) (SeqID, int) {
	t.Helper()
	id, err := m.Add(prompt, SeqOptions{})
	require.NoError(t, err)
	adm, err := m.Admit(id, len(prompt), 0, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitNow, adm.Admission)
	require.NoError(t, m.MarkComputed(id, adm.N))
	inv(t, m)
	return id, adm.Cached
}

// A sliding window releases exactly the blocks wholly before computed−W+1, replaced
// by NullBlock, at each reservation (as vLLM's scheduler does); released blocks
// stay cached.
func TestSlidingWindowReleaseExact(t *testing.T) {
	m := newHybrid(t, 16, 2, sw(5))
	id, _ := admitWhole(t, m, span(0, 10))
	require.Zero(t, countNull(tableG(t, m, id, 0)), "nothing released until the next reservation")
	require.Equal(t, 5, m.Stats().UsedBlocks)
	decode(t, m, id, 100) // reserves position 10, which reads (5, 10]: blocks 0..2 go
	tb := tableG(t, m, id, 0)
	require.Equal(t, []int32{NullBlock, NullBlock, NullBlock}, tb[:3])
	require.NotContains(t, tb[3:], NullBlock)
	st := m.Stats()
	require.Equal(t, 3, st.UsedBlocks)
	require.Equal(t, uint64(3), st.WindowReleases)
	require.Equal(t, 5, st.CachedBlocks, "released blocks stay cached")
	_, err := m.SlotMapping(id, 5, 11, nil)
	require.ErrorIs(t, err, ErrInvalidArgument, "position 5 is in a released block")
	slots, err := m.SlotMapping(id, 6, 11, nil)
	require.NoError(t, err)
	require.Len(t, slots, 5)

	decode(t, m, id, 101) // position 11 reads (6, 11]: still blocks 3..
	require.Equal(t, 3, countNull(tableG(t, m, id, 0)))
	decode(t, m, id, 102) // position 12 reads (7, 12]: block 3 goes
	require.Equal(t, 4, countNull(tableG(t, m, id, 0)))
	require.Equal(t, uint64(4), m.Stats().WindowReleases)
	require.NoError(t, m.Free(id))
	require.Equal(t, 16, m.Stats().FreeBlocks)
	inv(t, m)
}

func countNull(tb []int32) int {
	n := 0
	for _, b := range tb {
		if b == NullBlock {
			n++
		}
	}
	return n
}

// A long decode on a sliding-window model holds a bounded number of blocks; a full
// attention model's grows with the sequence.
func TestSlidingWindowBoundedMemory(t *testing.T) {
	for _, tc := range []struct {
		groups []KVGroup
		most   int
	}{{[]KVGroup{sw(8)}, 3}, {[]KVGroup{chunked(8), fullGroup()}, 2 + 50}, {nil, 50}} {
		m := newHybrid(t, 64, 4, tc.groups...)
		id, _ := admitWhole(t, m, span(0, 4))
		peak := 0
		for i := range 196 {
			decode(t, m, id, int32(i))
			peak = max(peak, m.Stats().UsedBlocks)
		}
		require.Equal(t, tc.most, peak, "groups %v", tc.groups)
	}
}

// A sliding-window hit needs only the blocks the window reaches: it survives the
// eviction of the blocks before them, where a full-attention hit does not.
func TestSlidingWindowHitAfterEarlyBlocksEvicted(t *testing.T) {
	for _, tc := range []struct {
		groups []KVGroup
		hit    int
	}{{[]KVGroup{sw(5)}, 10}, {nil, 6}} {
		m := newHybrid(t, 8, 2, tc.groups...)
		a, _ := admitWhole(t, m, span(0, 10))
		decode(t, m, a, 100) // the window releases a's blocks 0..2 (later first)
		require.NoError(t, m.Free(a))
		// The window's free queue: 6, 7 (never used), a's blocks 2, 1, 0, then 5, 4,
		// 3 at Free; full attention's: 6, 7, 5, 4, 3, 2, 1, 0. b takes five blocks.
		b, _ := admitWhole(t, m, span(200, 10))
		require.NoError(t, m.Free(b))
		hit, err := m.LookupPrompt(span(0, 11), SeqOptions{})
		require.NoError(t, err)
		require.Equal(t, tc.hit, hit, "groups %v", tc.groups)
		inv(t, m)
	}
}

// Full attention and a sliding window: the hit is the longest length valid for
// both. Evicting the window's early blocks costs nothing; evicting the full
// group's last block shortens the full hit, and the window then needs blocks that
// are gone, so the fixed point ends at 0.
func TestHybridHitFixedPoint(t *testing.T) {
	m := newHybrid(t, 8, 2, fullGroup(), sw(3))
	prompt := span(0, 9) // hits at most 4 blocks
	a, _ := admitWhole(t, m, span(0, 8))
	g0, g1 := m.groupBlocksOf(t, span(0, 8), 0), m.groupBlocksOf(t, span(0, 8), 1)
	// The decode's window release (W = 3: the next token reads 2 positions back)
	// frees group 1's blocks 2, 1, 0, and the step's two fresh blocks evict 2 and 1.
	decode(t, m, a, 8)
	require.Equal(t, 3, countNull(tableG(t, m, a, 1)))
	require.NoError(t, m.Free(a))
	hit, _ := m.LookupPrompt(prompt, SeqOptions{})
	require.Equal(t, 8, hit, "the window needs only its last block before the hit")
	_, cached := m.BlockInfo(g1[0])
	require.True(t, cached)
	d, _ := admitWhole(t, m, span(100, 2)) // takes the two uncached blocks of a's step
	hit, _ = m.LookupPrompt(prompt, SeqOptions{})
	require.Equal(t, 8, hit)
	e, _ := admitWhole(t, m, span(200, 2)) // evicts group 1's block 0 and group 0's block 3
	require.Equal(t, []int32{g1[0], g0[3]}, []int32{tableG(t, m, e, 0)[0], tableG(t, m, e, 1)[0]})
	hit, _ = m.LookupPrompt(prompt, SeqOptions{})
	require.Equal(t, 0, hit, "full: 3 blocks; window at 3 needs block 2, at 2 block 1, at 1 block 0: all gone")
	require.NoError(t, m.Free(d))
	require.NoError(t, m.Free(e))
	inv(t, m)
}

// groupBlocksOf returns the blocks group g caches for prompt's full blocks (test
// helper reading the pool through the lookup machinery).
func (m *Manager) groupBlocksOf(t testing.TB, prompt []int32, g int) []int32 {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.scheme.NewChain(prefix.Extras{})
	c.Extend(prompt)
	fps := extendFingerprints(nil, &c, prompt, m.bs)
	var out []int32
	var parent uint64
	for j := range c.Len() {
		if m.grp[g].kind != FullAttention {
			parent = m.fpIdent(&c, fps, j-1)
		}
		id, ident, ok := m.pool.LookupIdentity(m.groupKey(&c, prompt, j, g, parent))
		require.True(t, ok, "block %d of group %d", j, g)
		out = append(out, id)
		parent = ident
	}
	return out
}

// Admitting on a hybrid hit: the window group's table starts with NullBlock for the
// blocks it does not need, then the hit blocks; only those are claimed.
func TestHybridAdmitClaimsOnlyTheWindow(t *testing.T) {
	m := newHybrid(t, 32, 2, fullGroup(), sw(4), chunked(4))
	a, _ := admitWhole(t, m, span(0, 10))
	require.NoError(t, m.Free(a))
	require.Equal(t, 0, m.Stats().UsedBlocks)
	b, cached := admitWhole(t, m, cat(span(0, 10), span(50, 3)))
	require.Equal(t, 10, cached)
	// claimed at 10: window W=4 skips 7 → 3 null; chunk 4 skips 8 → 4 null.
	nulls := func() []int {
		return []int{countNull(tableG(t, m, b, 0)), countNull(tableG(t, m, b, 1)), countNull(tableG(t, m, b, 2))}
	}
	require.Equal(t, []int{0, 3, 4}, nulls())
	require.Equal(t, 7+4+3, m.Stats().UsedBlocks)
	// The next reservation (computed 13): W=4 skips 10 → 5 null; chunk skips 12 → 6.
	decode(t, m, b, 7)
	require.Equal(t, []int{0, 5, 6}, nulls())
	require.Equal(t, 7+2+1, m.Stats().UsedBlocks)
	st := m.Stats()
	require.Equal(t, uint64(23), st.PrefixQueries) // 10 + 13 tokens looked up
	require.Equal(t, uint64(10), st.PrefixHits)
	require.NoError(t, m.Free(b))
	inv(t, m)
}

// Fork shares every group's blocks; a write into the shared partial block copies
// it once per group.
func TestHybridForkCopyOnWritePerGroup(t *testing.T) {
	m := newHybrid(t, 32, 2, fullGroup(), sw(3))
	p, _ := admitWhole(t, m, span(0, 5))
	c, err := m.Fork(p)
	require.NoError(t, err)
	inv(t, m)
	_, copies := decode(t, m, c, 9)
	require.Len(t, copies, 2, "the partial last block of each group")
	pt0, ct0 := tableG(t, m, p, 0), tableG(t, m, c, 0)
	pt1, ct1 := tableG(t, m, p, 1), tableG(t, m, c, 1)
	require.Equal(t, BlockCopy{Src: pt0[2], Dst: ct0[2]}, copies[0])
	require.Equal(t, BlockCopy{Src: pt1[2], Dst: ct1[2]}, copies[1])
	require.NoError(t, m.Free(p))
	require.NoError(t, m.Free(c))
	inv(t, m)
	require.Equal(t, 32, m.Stats().FreeBlocks)
}

// A rollback cannot bring back a block the window released; rolling back the
// tokens of the last reservation (rejected speculative drafts) never needs one.
func TestHybridRollbackIntoReleasedWindow(t *testing.T) {
	m := newHybrid(t, 32, 2, sw(4))
	id, _ := admitWhole(t, m, span(0, 8))
	decode(t, m, id, 8) // released at 8: skip 5, blocks 0 and 1
	before := takeSnapshot(m)
	err := m.Rollback(id, 3) // computed 6: skip 3, block 1 would be read again
	require.ErrorIs(t, err, ErrInvalidArgument)
	after := takeSnapshot(m)
	require.True(t, equalSnapshots(&before, &after))
	require.NoError(t, m.Rollback(id, 2)) // computed 7: skip 4, blocks 0 and 1 still unread
	inv(t, m)
	// Speculation: reserve 1 + 3 drafts, compute them, reject all three.
	for range 20 {
		st, _ := m.State(id)
		require.NoError(t, m.Append(id, 1, 2, 3))
		_, err := m.Reserve(id, st.Tokens+3-st.Computed, 0, nil)
		require.NoError(t, err)
		require.NoError(t, m.MarkComputed(id, st.Tokens+3-st.Computed))
		require.NoError(t, m.Rollback(id, 3))
		require.NoError(t, m.Append(id, 4))
		inv(t, m)
	}
}
