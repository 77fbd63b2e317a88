package paged

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Partial-block reuse: a prompt that diverges inside a cached block reuses the
// block's matching leading tokens through a copy into a fresh block, instead of
// recomputing them.
func (s suite) TestPartialBlockReuse(t *testing.T) {
	m := s.newMgr(t, 8, 4, noWatermark, func(c *Config) { c.PartialBlockReuse = true })
	a, _ := admitAll(t, m, span(0, 9), SeqOptions{}) // blocks 0 [0..3] and 1 [4..7] cached
	ta := table(t, m, a)
	prompt := cat(span(0, 6), toks(99, 98, 97))
	h, err := m.LookupPromptTiers(prompt, SeqOptions{})
	require.NoError(t, err)
	require.Equal(t, PrefixHit{Tokens: 6, Device: 4, Partial: 2}, h)
	b, adm := admitAll(t, m, prompt, SeqOptions{})
	require.Equal(t, 6, adm.Claimed)
	require.Equal(t, 2, adm.PartialTokens)
	tb := table(t, m, b)
	require.Equal(t, ta[0], tb[0])
	require.NotEqual(t, ta[1], tb[1], "a fresh block: the cached one is never written")
	require.Equal(t, []BlockCopy{{Src: ta[1], Dst: tb[1], Dir: DeviceToDevice}}, adm.Copies)
	st := m.Stats()
	require.Equal(t, uint64(1), st.PartialReuses)
	require.Equal(t, uint64(2), st.PartialHits)
	require.Equal(t, uint64(6), st.PrefixHits, "a found nothing, b 6 tokens")
	// A prompt that fills its last cached block exactly still recomputes its last
	// token, and reuses the three before it.
	h, _ = m.LookupPromptTiers(span(0, 8), SeqOptions{})
	require.Equal(t, PrefixHit{Tokens: 7, Device: 4, Partial: 3}, h)
	// Blocks with extra keys are never partly reused.
	h, _ = m.LookupPromptTiers(cat(span(0, 6), toks(99)), SeqOptions{Adapter: "x"})
	require.Zero(t, h.Tokens)
	// Off by default.
	m2 := s.newMgr(t, 8, 4, noWatermark)
	admitAll(t, m2, span(0, 9), SeqOptions{})
	h, _ = m2.LookupPromptTiers(prompt, SeqOptions{})
	require.Equal(t, PrefixHit{Tokens: 4, Device: 4}, h)
	inv(t, m)
}

// A partly matching block in the host tier is copied straight from the host.
func TestPartialBlockReuseFromHost(t *testing.T) {
	m := newMgr(t, 3, 4, noWatermark, hostCache(WriteBack, 4), func(c *Config) { c.PartialBlockReuse = true })
	a, _ := admitAll(t, m, span(0, 9), SeqOptions{})
	require.NoError(t, m.Free(a))
	admitAll(t, m, span(100, 12), SeqOptions{}) // evicts and offloads both cached blocks
	prompt := cat(span(0, 6), toks(99, 98, 97))
	h, _ := m.LookupPromptTiers(prompt, SeqOptions{})
	require.Equal(t, PrefixHit{Tokens: 6, Host: 4, Partial: 2}, h)
	inv(t, m)
}
