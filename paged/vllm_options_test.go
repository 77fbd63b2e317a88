package paged

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// The two-block example from porting vLLM's tests: two prompts computed together
// leave duplicate chains A0 A1 and B0 B1; once A1 is evicted, the default lookup
// walks A0 (the oldest block of hash 0) and then misses, because B1 was registered
// under B0: 16 tokens. vLLM finds B1 by its hash alone: 32 tokens. With
// MatchDuplicateParents B0 took A0's identity when it was registered, so B1 is found
// through A0: 32 tokens, like vLLM.
func (s suite) TestDuplicateParents(t *testing.T) {
	for _, match := range []bool{false, true} {
		m := s.newMgr(t, 6, 16, noWatermark, func(c *Config) { c.MatchDuplicateParents = match })
		prompt := span(0, 33)
		a, err := m.Add(prompt, SeqOptions{})
		require.NoError(t, err)
		b, err := m.Add(prompt, SeqOptions{})
		require.NoError(t, err)
		for _, id := range []SeqID{a, b} { // both reserved before either is computed
			res, err := m.Reserve(id, 33, 0, nil)
			require.NoError(t, err)
			require.Zero(t, res.Claimed)
		}
		require.NoError(t, m.MarkComputed(a, 33))
		require.NoError(t, m.MarkComputed(b, 33))
		ta, tb := table(t, m, a), table(t, m, b)
		require.NoError(t, m.Free(a))
		require.NoError(t, m.Free(b))
		// Evict exactly A1: the free queue is the two partial blocks, then A1.
		q := freeOrder(m)
		k := pick(s, 3, 2)
		require.Equal(t, ta[1], q[k-1])
		c, err := m.Add(span(1000, 16*k), SeqOptions{})
		require.NoError(t, err)
		_, err = m.Reserve(c, 16*k, 0, nil)
		require.NoError(t, err)
		_, cached := m.Pool().Hash(ta[1])
		require.False(t, cached, "A1 evicted")
		_, cached = m.Pool().Hash(tb[1])
		require.True(t, cached, "B1 still cached")
		n, err := m.LookupPrompt(prompt, SeqOptions{})
		require.NoError(t, err)
		require.Equal(t, map[bool]int{false: 16, true: 32}[match], n, "MatchDuplicateParents %v", match)
		inv(t, m)
	}
}

// RegisterAtReserve: a block is shareable from the reservation that fills it, so
// identical prompts admitted in the same step (before anything is computed) share
// it; by default the second prompt computes it again.
func (s suite) TestRegisterAtReserve(t *testing.T) {
	for _, early := range []bool{false, true} {
		m := s.newMgr(t, 8, 4, noWatermark, eventsOn(false), func(c *Config) { c.RegisterAtReserve = early })
		prompt := span(0, 10)
		a, _ := m.Add(prompt, SeqOptions{})
		b, _ := m.Add(prompt, SeqOptions{})
		adm, err := m.Admit(a, 10, 0, nil)
		require.NoError(t, err)
		require.Zero(t, adm.Cached)
		adm, err = m.Admit(b, 10, 0, nil)
		require.NoError(t, err)
		require.Equal(t, map[bool]int{false: 0, true: 8}[early], adm.Cached)
		inv(t, m)
		rec := newRecorder(false)
		rec.drain(t, m)
		require.Equal(t, map[bool]int{false: 0, true: 1}[early], len(rec.stored), "BlockStored at reservation")
		require.NoError(t, m.MarkComputed(a, 10))
		require.NoError(t, m.MarkComputed(b, 10-adm.Cached))
		ta, tb := table(t, m, a), table(t, m, b)
		require.Equal(t, early, ta[0] == tb[0] && ta[1] == tb[1], "shared blocks %v %v", ta, tb)
		rec.drain(t, m)
		require.NoError(t, rec.matches(m))
		inv(t, m)
	}
}

// DropLastHitBlock (EAGLE/MTP): the last reused block is recomputed; with partial
// reuse, the partial block is dropped first.
func TestDropLastHitBlock(t *testing.T) {
	for _, partial := range []bool{false, true} {
		m := newMgr(t, 8, 4, noWatermark, func(c *Config) { c.DropLastHitBlock, c.PartialBlockReuse = true, partial })
		a, _ := admitAll(t, m, span(0, 13), SeqOptions{}) // 3 full blocks cached
		require.NoError(t, m.Free(a))
		h, err := m.LookupPromptTiers(cat(span(0, 10), toks(99, 98, 97)), SeqOptions{})
		require.NoError(t, err)
		if partial { // 2 blocks and 2 tokens match: the partial 2 are dropped
			require.Equal(t, PrefixHit{Tokens: 8, Device: 8}, h)
		} else { // 2 blocks match: the second is dropped
			require.Equal(t, PrefixHit{Tokens: 4, Device: 4}, h)
		}
		_, adm := admitAll(t, m, cat(span(0, 10), toks(99, 98, 97)), SeqOptions{})
		require.Equal(t, h.Tokens, adm.Claimed)
		inv(t, m)
	}
	m := newMgr(t, 8, 4, noWatermark, func(c *Config) { c.DropLastHitBlock = true })
	n, _ := m.LookupPrompt(span(0, 9), SeqOptions{})
	require.Zero(t, n, "nothing to drop")
}

// CanSwapIn answers like vLLM's can_swap_in: now, later (the device is busy), never
// (more than the device holds above the watermark).
func TestCanSwapIn(t *testing.T) {
	m := newMgr(t, 4, 4, noWatermark, func(c *Config) { c.HostBlocks = 8 })
	a, _ := admitAll(t, m, span(0, 8), SeqOptions{})
	_, err := m.CanSwapIn(a, 0)
	require.True(t, errors.Is(err, ErrInvalidArgument), "on the device")
	_, err = m.SwapOut(a, nil)
	require.NoError(t, err)
	v, err := m.CanSwapIn(a, 0)
	require.NoError(t, err)
	require.Equal(t, AdmitNow, v)
	v, _ = m.CanSwapIn(a, 8) // 2 blocks + 2 for lookahead: the whole device
	require.Equal(t, AdmitNow, v)
	v, _ = m.CanSwapIn(a, 9)
	require.Equal(t, AdmitNever, v)
	admitAll(t, m, span(100, 12), SeqOptions{}) // 3 of 4 blocks busy
	v, _ = m.CanSwapIn(a, 0)
	require.Equal(t, AdmitLater, v)
	need, _ := m.SwapInBlocks(a)
	require.Equal(t, 2, need)
	_, err = m.CanSwapIn(a, -1)
	require.True(t, errors.Is(err, ErrInvalidArgument))
	inv(t, m)
}
