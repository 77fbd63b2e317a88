package paged

import (
	"errors"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

func TestConfigValidation(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"no blocks":      func(c *Config) { c.NumBlocks = 0 },
		"block size":     func(c *Config) { c.BlockSize = -1 },
		"watermark 1":    func(c *Config) { c.Watermark = 1 },
		"watermark -0.1": func(c *Config) { c.Watermark = -0.1 },
		"stats window":   func(c *Config) { c.StatsWindow = -1 },
	} {
		cfg := DefaultConfig()
		cfg.NumBlocks = 4
		mod(&cfg)
		_, err := New(cfg)
		require.True(t, errors.Is(err, ErrInvalidConfig), name)
	}
	cfg := DefaultConfig()
	cfg.NumBlocks, cfg.ReleasePolicy, cfg.Hasher = 4, nil, nil
	m, err := New(cfg)
	require.NoError(t, err)
	require.NotNil(t, m.Config().Hasher)
}

func TestOperationErrors(t *testing.T) {
	m := newMgr(t, 4, 4)
	a, _ := m.Add(span(0, 6), SeqOptions{})
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"add empty", func() error { _, err := m.Add(nil, SeqOptions{}); return err }, ErrInvalidArgument},
		{"add bad mm", func() error {
			_, err := m.Add(span(0, 3), SeqOptions{MM: []prefix.MMItem{{ID: "x", Offset: -1, Length: 1}}})
			return err
		}, ErrInvalidArgument},
		{"reserve zero", func() error { _, err := m.Reserve(a, 0, 0, nil); return err }, ErrInvalidArgument},
		{"reserve negative", func() error { _, err := m.Reserve(a, -1, 2, nil); return err }, ErrInvalidArgument},
		{"reserve past tokens", func() error { _, err := m.Reserve(a, 7, 0, nil); return err }, ErrInvalidArgument},
		{"reserve too big", func() error { _, err := m.Reserve(a, 6, 20, nil); return err }, ErrNoSpace},
		{"reserve unknown", func() error { _, err := m.Reserve(SeqID(999), 1, 0, nil); return err }, ErrUnknownSequence},
		{"reserve zero id", func() error { _, err := m.Reserve(0, 1, 0, nil); return err }, ErrUnknownSequence},
		{"mark unreserved", func() error { return m.MarkComputed(a, 1) }, ErrInvalidArgument},
		{"mark negative", func() error { return m.MarkComputed(a, -1) }, ErrInvalidArgument},
		{"rollback all", func() error { return m.Rollback(a, 6) }, ErrInvalidArgument},
		{"rollback negative", func() error { return m.Rollback(a, -1) }, ErrInvalidArgument},
		{"slots unreserved", func() error { _, err := m.SlotMapping(a, 0, 1, nil); return err }, ErrInvalidArgument},
		{"slots reversed", func() error { _, err := m.SlotMapping(a, 1, 0, nil); return err }, ErrInvalidArgument},
		{"decode unstarted", func() error {
			_, err := m.DecodeStep([]SeqID{a}, []int32{1}, 0, make([]int64, 1), nil)
			return err
		}, ErrInvalidArgument},
		{"decode short slots", func() error {
			_, err := m.DecodeStep([]SeqID{a}, []int32{1}, 0, nil, nil)
			return err
		}, ErrInvalidArgument},
		{"mark batch unknown", func() error { return m.MarkComputedBatch([]SeqID{a, 12345}, 0) }, ErrUnknownSequence},
		{"admit started", func() error {
			b, _ := m.Add(span(0, 2), SeqOptions{})
			_, _ = m.Reserve(b, 2, 0, nil)
			_, err := m.CanAdmitSequence(b, 0)
			_ = m.Free(b)
			return err
		}, ErrInvalidArgument},
		{"free unknown", func() error { return m.Free(SeqID(1 << 40)) }, ErrUnknownSequence},
	}
	for _, c := range cases {
		before := freeOrder(m)
		st, _ := m.State(a)
		err := c.call()
		require.True(t, errors.Is(err, c.want), "%s: got %v", c.name, err)
		require.Equal(t, before, freeOrder(m), c.name)
		st2, _ := m.State(a)
		require.Equal(t, st, st2, c.name)
		inv(t, m)
	}
	// A freed handle stays invalid even after its slot is reused.
	require.NoError(t, m.Free(a))
	b, _ := m.Add(span(0, 3), SeqOptions{})
	require.NotEqual(t, a, b)
	_, err := m.State(a)
	require.True(t, errors.Is(err, ErrUnknownSequence))
	require.Equal(t, 1, m.NumSequences())
}

func (s suite) TestMarkComputedBatchAllOrNothing(t *testing.T) {
	m := s.newMgr(t, 8, 4)
	a, _ := m.Add(span(0, 4), SeqOptions{})
	b, _ := m.Add(span(10, 4), SeqOptions{})
	_, _ = m.Reserve(a, 4, 0, nil)
	_, _ = m.Reserve(b, 2, 0, nil)
	require.True(t, errors.Is(m.MarkComputedBatch([]SeqID{a, b}, 3), ErrInvalidArgument))
	sa, _ := m.State(a)
	require.Zero(t, sa.Computed)
	require.True(t, errors.Is(m.MarkComputedBatch([]SeqID{a, a}, 1), ErrInvalidArgument))
	require.NoError(t, m.MarkComputedBatch([]SeqID{a, b}, 2))
	sa, _ = m.State(a)
	require.Equal(t, 2, sa.Computed)
	inv(t, m)
}

func (s suite) TestStatsWindowAndCounters(t *testing.T) {
	m := s.newMgr(t, 64, 4, func(c *Config) { c.StatsWindow = 2 })
	prefill(t, m, span(0, 9), SeqOptions{}) // 9 queried, 0 hit
	prefill(t, m, span(0, 9), SeqOptions{}) // 9 queried, 8 hit
	prefill(t, m, span(0, 9), SeqOptions{}) // 9 queried, 8 hit
	st := m.Stats()
	require.Equal(t, uint64(3), st.PrefixRequests)
	require.Equal(t, uint64(27), st.PrefixQueries)
	require.Equal(t, uint64(16), st.PrefixHits)
	require.Equal(t, uint64(18), st.RecentQueries)
	require.Equal(t, uint64(16), st.RecentHits)
	require.InDelta(t, 16.0/18, st.RecentHitRate, 1e-9)
	require.Equal(t, 3*3-2*2, st.UsedBlocks)
	require.Equal(t, 2, st.CachedBlocks)
	require.Equal(t, 3, st.Sequences)
	require.InDelta(t, 5.0/64, st.Usage, 1e-9)
	require.Equal(t, "later", AdmitLater.String())
}

func (s suite) TestPrefixCachingOff(t *testing.T) {
	m := s.newMgr(t, 8, 4, func(c *Config) { c.DisablePrefixCaching = true })
	prefill(t, m, span(0, 9), SeqOptions{})
	_, claimed := prefill(t, m, span(0, 9), SeqOptions{})
	require.Zero(t, claimed)
	require.Zero(t, m.Pool().NumCached())
	require.Zero(t, m.Stats().PrefixQueries)
}

// A hasher under which every block collides must never produce a wrong hit: hits are
// confirmed against tokens, parent and extra keys.
func (s suite) TestCollidingHasherNeverSharesWrongContent(t *testing.T) {
	m := s.newMgr(t, 32, 4, func(c *Config) { c.Hasher = constHasher{} })
	prefill(t, m, span(0, 12), SeqOptions{})
	for _, c := range []struct {
		prompt []int32
		opts   SeqOptions
		want   int
	}{
		{span(0, 12), SeqOptions{}, 8},
		{cat(span(0, 4), span(50, 8)), SeqOptions{}, 4},
		{span(1, 12), SeqOptions{}, 0},
		{span(0, 12), SeqOptions{CacheSalt: "s"}, 0},
		{span(0, 12), SeqOptions{Adapter: "a"}, 0},
		// same tokens in block 1 but a different block 0: the parent differs.
		{cat(span(100, 4), span(4, 8)), SeqOptions{}, 0},
	} {
		n, err := m.LookupPrompt(c.prompt, c.opts)
		require.NoError(t, err)
		require.Equal(t, c.want, n, "%v %+v", c.prompt, c.opts)
	}
	// Reservation claims only confirmed blocks too.
	_, claimed := prefill(t, m, cat(span(100, 4), span(4, 8)), SeqOptions{})
	require.Zero(t, claimed)
	inv(t, m)
}
