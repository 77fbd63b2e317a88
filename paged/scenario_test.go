package paged

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// Block size 4 throughout; token values chosen so prompts differ where stated.

func (s suite) TestScenarioPrefillWithSharing(t *testing.T) {
	m := s.newMgr(t, 10, 4)
	a, claimed := prefill(t, m, span(0, 10), SeqOptions{})
	require.Zero(t, claimed)
	require.Equal(t, []int32{0, 1, 2}, table(t, m, a))
	require.Equal(t, []int32{3, 4, 5, 6, 7, 8, 9}, freeOrder(m))
	// Blocks 0 and 1 are full and computed: cached. Block 2 (2 tokens) is not.
	require.Equal(t, 2, m.Pool().NumCached())

	b, err := m.Add(cat(span(0, 8), toks(100, 101, 102)), SeqOptions{})
	require.NoError(t, err)
	n, err := m.CachedPrefix(b)
	require.NoError(t, err)
	require.Equal(t, 8, n)
	require.Equal(t, []int{1, 1, 1}, refs(m, 0, 1, 2), "lookup has no side effects")
	res, err := m.Reserve(b, 3, 0, nil)
	require.NoError(t, err)
	require.Equal(t, 8, res.Claimed)
	require.Equal(t, 8, res.Start)
	require.Empty(t, res.Copies)
	require.Equal(t, []int32{0, 1, 3}, table(t, m, b))
	require.Equal(t, []int{2, 2, 1, 1}, refs(m, 0, 1, 2, 3))
	slots, err := m.SlotMapping(b, 6, 11, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{1*4 + 2, 1*4 + 3, 3 * 4, 3*4 + 1, 3*4 + 2}, slots)
	inv(t, m)

	// A prompt that is exactly two blocks long hits only one: the last token must be
	// computed, and hits are whole blocks.
	c, _ := m.Add(span(0, 8), SeqOptions{})
	n, _ = m.CachedPrefix(c)
	require.Equal(t, 4, n)
	st := m.Stats()
	require.Equal(t, uint64(21), st.PrefixQueries) // A: 10, B: 11 (C not started)
	require.Equal(t, uint64(8), st.PrefixHits)
}

func (s suite) TestScenarioDecodeFillsBlock(t *testing.T) {
	m := s.newMgr(t, 6, 4)
	a, _ := prefill(t, m, span(0, 6), SeqOptions{})
	require.Equal(t, []int32{0, 1}, table(t, m, a))
	// Positions 6 and 7 fill block 1; the first appended token sits at position 6.
	slot, copies := decode(t, m, a, 50)
	require.Equal(t, int64(1*4+2), slot)
	require.Empty(t, copies)
	require.Equal(t, 1, m.Pool().NumCached())
	slot, _ = decode(t, m, a, 51)
	require.Equal(t, int64(1*4+3), slot)
	require.Equal(t, 2, m.Pool().NumCached(), "block 1 full and computed: now cached")
	// Position 8 needs a new block: the head of the free queue.
	require.Equal(t, []int32{2, 3, 4, 5}, freeOrder(m))
	slot, _ = decode(t, m, a, 52)
	require.Equal(t, int64(2*4), slot)
	require.Equal(t, []int32{0, 1, 2}, table(t, m, a))
	st, _ := m.State(a)
	require.Equal(t, SeqState{Tokens: 9, Computed: 9, Reserved: 9, Blocks: 3, Cached: 2, Started: true, Frontier: 2}, st)
}

func (s suite) TestScenarioEvictionOrder(t *testing.T) {
	m := s.newMgr(t, 8, 4)
	a, _ := prefill(t, m, span(0, 10), SeqOptions{})  // blocks 0 1 2; 0,1 cached
	b, _ := prefill(t, m, span(100, 9), SeqOptions{}) // blocks 3 4 5; 3,4 cached
	require.Equal(t, []int32{6, 7}, freeOrder(m))
	// Free A: within a sequence, tail first. Unhashed-first: block 2 (partial,
	// unhashed) goes to the head; cached 1 then 0 go to the tail. All-to-tail: 2, 1, 0
	// are appended in that order.
	require.NoError(t, m.Free(a))
	require.Equal(t, pick(s, []int32{2, 6, 7, 1, 0}, []int32{6, 7, 2, 1, 0}), freeOrder(m))
	require.Equal(t, freeOrder(m), m.FreeQueue(nil))
	refs0, cached0 := m.BlockInfo(0)
	require.Zero(t, refs0)
	require.True(t, cached0, "freed cached blocks stay hit-able")
	refs3, cached3 := m.BlockInfo(3)
	require.Equal(t, 1, refs3)
	require.True(t, cached3)
	_, cached2 := m.BlockInfo(2)
	require.False(t, cached2, "a partial block is never cached")
	// Free B later: its cached blocks are evicted after A's (LRU across sequences).
	require.NoError(t, m.Free(b))
	require.Equal(t, pick(s, []int32{5, 2, 6, 7, 1, 0, 4, 3}, []int32{6, 7, 2, 1, 0, 5, 4, 3}), freeOrder(m))
	inv(t, m)
	// A new 5-block prompt: unhashed-first reuses 5 2 6 7 (uncached) then evicts 1
	// (A's chain end first); all-to-tail reuses 6 7 2 and evicts 1 and 0.
	c, err := m.Add(span(500, 20), SeqOptions{})
	require.NoError(t, err)
	_, err = m.Reserve(c, 20, 0, nil)
	require.NoError(t, err)
	require.Equal(t, pick(s, []int32{5, 2, 6, 7, 1}, []int32{6, 7, 2, 1, 0}), table(t, m, c))
	require.Equal(t, pick(s, uint64(1), uint64(2)), m.Stats().Evictions)
	// Unhashed-first kept A's first block cached, so it can still be hit.
	n, _ := m.LookupPrompt(span(0, 10), SeqOptions{})
	require.Equal(t, pick(s, 4, 0), n)
	inv(t, m)
}

func (s suite) TestScenarioFailedReservationLeavesHitsUntouched(t *testing.T) {
	m := s.newMgr(t, 4, 4)
	a, _ := prefill(t, m, span(0, 8), SeqOptions{}) // blocks 0 1; 0,1 cached
	require.NoError(t, m.Free(a))
	require.Equal(t, []int32{2, 3, 1, 0}, freeOrder(m))
	// B shares block 0 and needs 4 more blocks: 1 revived hit + 4 fresh > 4 free.
	requests := m.Stats().PrefixRequests
	b, _ := m.Add(cat(span(0, 4), span(900, 16)), SeqOptions{})
	n, _ := m.CachedPrefix(b)
	require.Equal(t, 4, n)
	_, err := m.Reserve(b, 16, 0, nil)
	require.True(t, errors.Is(err, ErrNoSpace))
	require.Equal(t, []int32{2, 3, 1, 0}, freeOrder(m))
	require.Equal(t, []int{0, 0, 0, 0}, refs(m, 0, 1, 2, 3))
	require.Equal(t, 2, m.Pool().NumCached())
	require.Equal(t, requests, m.Stats().PrefixRequests, "a failed reservation records no query")
	st, _ := m.State(b)
	require.False(t, st.Started)
	inv(t, m)
	// A smaller chunk fits: it claims the hit and takes 2 fresh blocks.
	res, err := m.Reserve(b, 8, 0, nil)
	require.NoError(t, err)
	require.Equal(t, 4, res.Claimed)
	require.Equal(t, []int32{0, 2, 3}, table(t, m, b))
	require.Equal(t, []int32{1}, freeOrder(m))
	inv(t, m)
}

func (s suite) TestScenarioReset(t *testing.T) {
	rec := newRecorder(false)
	m := s.newMgr(t, 4, 4, eventsOn(false))
	a, _ := prefill(t, m, span(0, 8), SeqOptions{})
	err := m.ResetPrefixCache()
	require.True(t, errors.Is(err, ErrCacheInUse))
	require.Equal(t, 2, m.Pool().NumCached())
	require.NoError(t, m.Free(a))
	order := freeOrder(m)
	require.NoError(t, m.ResetPrefixCache())
	require.Zero(t, m.Pool().NumCached())
	require.Equal(t, order, freeOrder(m))
	n, _ := m.LookupPrompt(span(0, 8), SeqOptions{})
	require.Zero(t, n)
	rec.drain(t, m)
	require.Equal(t, 1, rec.cleared)
	require.Zero(t, m.Stats().RecentQueries)
	inv(t, m)
}

func (s suite) TestScenarioSaltsAndAdaptersIsolate(t *testing.T) {
	m := s.newMgr(t, 16, 4)
	prompt := span(0, 9)
	prefill(t, m, prompt, SeqOptions{CacheSalt: "tenant-a"})
	prefill(t, m, prompt, SeqOptions{Adapter: "lora-x"})
	for _, c := range []struct {
		opts SeqOptions
		want int
	}{
		{SeqOptions{CacheSalt: "tenant-a"}, 8},
		{SeqOptions{CacheSalt: "tenant-b"}, 0},
		{SeqOptions{}, 0},
		{SeqOptions{Adapter: "lora-x"}, 8},
		{SeqOptions{Adapter: "lora-y"}, 0},
		{SeqOptions{Adapter: "lora-x", CacheSalt: "tenant-a"}, 0},
	} {
		n, err := m.LookupPrompt(prompt, c.opts)
		require.NoError(t, err)
		require.Equal(t, c.want, n, "%+v", c.opts)
	}
}

func (s suite) TestScenarioLookahead(t *testing.T) {
	m := s.newMgr(t, 8, 4)
	a, _ := prefill(t, m, span(0, 7), SeqOptions{}) // blocks 0 1; position 7 free in block 1
	// Decode token at position 7 plus 3 lookahead slots 8..10: one new block.
	require.NoError(t, m.Append(a, 70))
	res, err := m.Reserve(a, 1, 3, nil)
	require.NoError(t, err)
	require.Equal(t, 7, res.Start)
	require.Equal(t, []int32{0, 1, 2}, table(t, m, a))
	slots, _ := m.SlotMapping(a, 7, 11, nil)
	require.Equal(t, []int64{7, 8, 9, 10}, slots)
	// The engine verified 2 drafts (tokens 71, 72) plus the decode token.
	require.NoError(t, m.Append(a, 71, 72))
	require.NoError(t, m.MarkComputed(a, 3))
	st, _ := m.State(a)
	require.Equal(t, 10, st.Computed)
	require.Equal(t, 11, st.Reserved)
	require.Equal(t, 2, st.Cached, "block 1 is full and computed; drafts never hashed beyond accepted tokens")
	// Rolling back: the engine appended draft 73 and computed it, then rejected it.
	require.NoError(t, m.Append(a, 73))
	require.NoError(t, m.MarkComputed(a, 1))
	require.NoError(t, m.Rollback(a, 1))
	st, _ = m.State(a)
	require.Equal(t, SeqState{Tokens: 10, Computed: 10, Reserved: 10, Blocks: 3, Cached: 2, Started: true, Frontier: 2}, st)
	// Lookahead past the table on a later step reuses held blocks first.
	require.NoError(t, m.Append(a, 80))
	_, err = m.Reserve(a, 1, 1, nil)
	require.NoError(t, err)
	require.Equal(t, []int32{0, 1, 2}, table(t, m, a))
	require.Error(t, m.Rollback(a, 11), "cannot roll back every token")
	inv(t, m)
}

func (s suite) TestScenarioRollbackIntoCachedBlockCopies(t *testing.T) {
	m := s.newMgr(t, 8, 4)
	a, _ := prefill(t, m, span(0, 8), SeqOptions{}) // blocks 0 1 cached
	require.NoError(t, m.Rollback(a, 1))            // position 7 must be recomputed
	st, _ := m.State(a)
	require.Equal(t, 1, st.Cached)
	require.NoError(t, m.Append(a, 99))
	res, err := m.Reserve(a, 1, 0, nil)
	require.NoError(t, err)
	// Block 1 is cached (it holds the old token 7): the write goes to a fresh block,
	// with a copy of positions 4..6.
	require.Equal(t, []BlockCopy{{Src: 1, Dst: 2}}, res.Copies)
	require.Equal(t, []int32{0, 2}, table(t, m, a))
	require.Equal(t, []int32{3, 4, 5, 6, 7, 1}, freeOrder(m), "old block stays cached at the tail")
	inv(t, m)
}

func (s suite) TestScenarioForkThenCopyOnWrite(t *testing.T) {
	m := s.newMgr(t, 8, 4)
	p, _ := prefill(t, m, span(0, 6), SeqOptions{}) // blocks 0 (cached), 1 (2 tokens)
	c, err := m.Fork(p)
	require.NoError(t, err)
	require.Equal(t, []int32{0, 1}, table(t, m, c))
	require.Equal(t, []int{2, 2}, refs(m, 0, 1))
	inv(t, m)
	// The child writes position 6 into shared partial block 1: copy-on-write.
	_, copies := decode(t, m, c, 7)
	require.Equal(t, []BlockCopy{{Src: 1, Dst: 2}}, copies)
	require.Equal(t, []int32{0, 2}, table(t, m, c))
	require.Equal(t, []int{2, 1, 1}, refs(m, 0, 1, 2))
	// The parent now holds block 1 alone and writes in place.
	_, copies = decode(t, m, p, 8)
	require.Empty(t, copies)
	require.Equal(t, []int32{0, 1}, table(t, m, p))
	require.Equal(t, uint64(1), m.Stats().CopyOnWrites)
	// Full shared blocks are never copied: fork at a block boundary.
	_, _ = decode(t, m, p, 9) // parent fills block 1 (8 tokens)
	g, _ := m.Fork(p)
	_, copies = decode(t, m, g, 10)
	require.Empty(t, copies)
	require.Equal(t, []int32{0, 1, 3}, table(t, m, g))
	// Freeing the parent leaves the fork intact.
	require.NoError(t, m.Free(p))
	require.Equal(t, []int{2, 1}, refs(m, 0, 1))
	inv(t, m)
	for _, id := range []SeqID{c, g} {
		require.NoError(t, m.Free(id))
	}
	require.Equal(t, 8, m.Stats().FreeBlocks)
	inv(t, m)
}

func (s suite) TestScenarioWatermark(t *testing.T) {
	m := s.newMgr(t, 100, 4, func(c *Config) { c.Watermark = 0.1 })
	require.Equal(t, 10, m.WatermarkBlocks())
	require.Equal(t, AdmitNow, canAdmit(t, m, 360, 0))   // 90 blocks, 10 left
	require.Equal(t, AdmitNever, canAdmit(t, m, 361, 0)) // 91 blocks can never leave 10
	prefill(t, m, span(0, 200), SeqOptions{})            // 50 blocks used
	require.Equal(t, AdmitNow, canAdmit(t, m, 160, 0))
	require.Equal(t, AdmitLater, canAdmit(t, m, 161, 0))
	require.Equal(t, AdmitLater, canAdmit(t, m, 160, 4))
	// Counting hits: a prompt sharing A's 200 tokens needs only its own new blocks.
	b, _ := m.Add(cat(span(0, 200), span(1000, 160)), SeqOptions{})
	adm, err := m.CanAdmitSequence(b, 0)
	require.NoError(t, err)
	require.Equal(t, AdmitNow, adm)
	require.Equal(t, AdmitLater, canAdmit(t, m, 360, 0))
}

func TestConcurrentReaders(t *testing.T) {
	m := newMgr(t, 64, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			_ = m.Stats()
			_ = m.Stats().FreeBlocks
		}
	}()
	for i := range 50 {
		id, _ := prefill(t, m, span(i%5*100, 9), SeqOptions{})
		require.NoError(t, m.Free(id))
	}
	<-done
	inv(t, m)
}
