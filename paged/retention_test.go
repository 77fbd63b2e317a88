package paged

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// A high-priority prefix (a system prompt) outlives default ones released after it;
// a negative-priority one goes first; once its duration passes on the clock, the
// high priority decays and it is evicted like any other.
func (s suite) TestRetentionPriorities(t *testing.T) {
	m := s.newMgr(t, 8, 4, noWatermark)
	sys, _ := admitAll(t, m, span(0, 5), SeqOptions{Priority: 50, PriorityDuration: 10})
	low, _ := admitAll(t, m, span(100, 5), SeqOptions{Priority: -10})
	mid, _ := admitAll(t, m, span(200, 5), SeqOptions{})
	late, _ := admitAll(t, m, span(300, 5), SeqOptions{}) // released after the decay
	for _, id := range []SeqID{sys, low, mid} {
		require.NoError(t, m.Free(id))
	}
	cached := func() []int32 { // the free queue's cached blocks, in eviction order
		var out []int32
		for _, b := range freeOrder(m) {
			if _, ok := m.Pool().Hash(b); ok {
				out = append(out, b)
			}
		}
		return out
	}
	// Blocks 0 (sys), 2 (low), 4 (mid): low goes first, sys last.
	require.Equal(t, []int32{2, 4, 0}, cached())
	require.NoError(t, m.SetClock(9))
	require.Equal(t, []int32{2, 4, 0}, cached())
	require.NoError(t, m.SetClock(10)) // sys decays to priority 0: the tail of the default level
	require.Equal(t, []int32{2, 4, 0}, cached(), "decayed, it is the most recent default-level block")
	require.NoError(t, m.Free(late))
	require.Equal(t, []int32{2, 4, 0, 6}, cached(), "a later default release goes after it")
	require.True(t, errors.Is(m.SetClock(9), ErrInvalidArgument), "the clock never runs backwards")
	require.Equal(t, int64(10), m.Clock())
	require.Equal(t, int64(10), m.Stats().Clock)
	inv(t, m)
}

// A shared block keeps the highest priority any releaser asked for.
func TestRetentionSharedBlockKeepsTheMax(t *testing.T) {
	m := newMgr(t, 4, 4, noWatermark)
	a, _ := admitAll(t, m, span(0, 5), SeqOptions{Priority: 30})
	b, _ := admitAll(t, m, span(0, 6), SeqOptions{}) // hits block 0
	require.NoError(t, m.Free(a))
	require.NoError(t, m.Free(b))
	l, _ := m.Pool().Level(0)
	require.Equal(t, 30-MinPriority, l)
	c, _ := admitAll(t, m, span(100, 5), SeqOptions{})
	require.NoError(t, m.Free(c))
	q := freeOrder(m)
	require.Equal(t, int32(0), q[len(q)-1], "block 0 (priority 30) is evicted last")
	inv(t, m)
}

// Pins hold blocks: never evicted while pinned, counted as used, bounded by
// MaxPinnedFraction; Unpin lets them go.
func TestPins(t *testing.T) {
	m := newMgr(t, 4, 4, noWatermark, func(c *Config) { c.MaxPinnedFraction = 0.5 })
	a, _ := admitAll(t, m, span(0, 9), SeqOptions{}) // blocks 0 1 cached
	require.NoError(t, m.Free(a))
	p, n, err := m.Pin(span(0, 12), SeqOptions{})
	require.NoError(t, err)
	require.Equal(t, 8, n, "the two cached blocks")
	st := m.Stats()
	require.Equal(t, 1, st.Pins)
	require.Equal(t, 2, st.PinnedBlocks)
	require.Equal(t, 2, st.UsedBlocks)
	// Another pin of the same blocks counts them once; a third block exceeds 0.5.
	p2, _, err := m.Pin(span(0, 4), SeqOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, m.Stats().PinnedBlocks)
	b, _ := admitAll(t, m, span(100, 8), SeqOptions{}) // takes the 2 free blocks
	_, _, err = m.Pin(span(100, 8), SeqOptions{})
	require.True(t, errors.Is(err, ErrPinLimit), "%v", err)
	_, _, err = m.Pin(span(500, 8), SeqOptions{})
	require.True(t, errors.Is(err, ErrNotCached))
	// Pinned blocks are never evicted: the pool cannot admit a 3-block prompt.
	require.NoError(t, m.Free(b))
	id, err := m.Add(span(200, 12), SeqOptions{})
	require.NoError(t, err)
	adm, err := m.Admit(id, 12, 0, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitLater, adm.Admission, "later: a pin is not forever")
	require.True(t, errors.Is(m.ResetPrefixCache(), ErrCacheInUse))
	inv(t, m)
	require.NoError(t, m.Unpin(p))
	require.Equal(t, 1, m.Stats().PinnedBlocks, "p2 still holds block 0")
	require.NoError(t, m.Unpin(p2))
	require.True(t, errors.Is(m.Unpin(p2), ErrUnknownPin))
	require.True(t, errors.Is(m.Unpin(0), ErrUnknownPin))
	require.Zero(t, m.Stats().PinnedBlocks)
	h, _ := m.LookupPromptTiers(span(0, 9), SeqOptions{})
	require.Equal(t, 8, h.Device, "unpinned blocks stay cached")
	inv(t, m)
}
