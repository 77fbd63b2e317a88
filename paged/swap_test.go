package paged

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func (s suite) TestSwapOutAndIn(t *testing.T) {
	m := s.newMgr(t, 8, 4, func(c *Config) { c.HostBlocks = 4 })
	a, _ := prefill(t, m, span(0, 10), SeqOptions{}) // blocks 0 1 2; 0,1 cached
	b, err := m.Fork(a)
	require.NoError(t, err)
	copies, err := m.SwapOut(a, nil)
	require.NoError(t, err)
	require.Equal(t, []BlockCopy{{Src: 0, Dst: 0, Dir: DeviceToHost}, {Src: 1, Dst: 1, Dir: DeviceToHost}, {Src: 2, Dst: 2, Dir: DeviceToHost}}, copies)
	st, _ := m.State(a)
	require.True(t, st.Swapped)
	require.Equal(t, 10, st.Computed)
	require.Equal(t, []int{1, 1, 1}, refs(m, 0, 1, 2), "the fork keeps its device blocks")
	require.Equal(t, 1, m.Stats().HostFree)
	inv(t, m)
	// Device operations are refused while swapped; Append is allowed.
	_, err = m.Reserve(a, 1, 0, nil)
	require.True(t, errors.Is(err, ErrSwapped))
	_, err = m.BlockTable(a, nil)
	require.True(t, errors.Is(err, ErrSwapped))
	_, err = m.DecodeStep([]SeqID{a}, []int32{1}, 0, make([]int64, 1), nil)
	require.True(t, errors.Is(err, ErrSwapped))
	_, err = m.Fork(a)
	require.True(t, errors.Is(err, ErrSwapped))
	require.NoError(t, m.Append(a, 77))
	// Not enough host space for another 3 blocks: nothing changes.
	_, err = m.SwapOut(b, nil)
	require.True(t, errors.Is(err, ErrNoSpace))
	stb, _ := m.State(b)
	require.False(t, stb.Swapped)
	need, _ := m.SwapInBlocks(a)
	require.Equal(t, 3, need)
	// Swap back in: fresh device blocks, host blocks freed, full blocks cached again.
	require.NoError(t, m.Free(b))
	copies, err = m.SwapIn(a, nil)
	require.NoError(t, err)
	require.Len(t, copies, 3)
	tb := table(t, m, a)
	for i, c := range copies {
		require.Equal(t, BlockCopy{Src: int32(i), Dst: tb[i], Dir: HostToDevice}, c)
	}
	require.Equal(t, 4, m.Stats().HostFree)
	st, _ = m.State(a)
	require.Equal(t, 2, st.Cached)
	// Decoding continues from position 10 (the appended token).
	res, err := m.Reserve(a, 1, 0, nil)
	require.NoError(t, err)
	require.Equal(t, 10, res.Start)
	require.Equal(t, uint64(1), m.Stats().SwapOuts)
	require.Equal(t, uint64(1), m.Stats().SwapIns)
	inv(t, m)
	require.NoError(t, m.Free(a))
	require.Equal(t, 8, m.Stats().FreeBlocks)
}

func (s suite) TestSwapErrors(t *testing.T) {
	m := s.newMgr(t, 8, 4)
	a, _ := prefill(t, m, span(0, 5), SeqOptions{})
	_, err := m.SwapOut(a, nil)
	require.True(t, errors.Is(err, ErrNoHostTier))
	_, err = m.SwapIn(a, nil)
	require.True(t, errors.Is(err, ErrInvalidArgument))
	m = s.newMgr(t, 3, 4, func(c *Config) { c.HostBlocks = 8 })
	a, _ = prefill(t, m, span(0, 8), SeqOptions{})
	_, err = m.SwapOut(a, nil)
	require.NoError(t, err)
	prefill(t, m, span(100, 12), SeqOptions{}) // takes all 3 device blocks
	_, err = m.SwapIn(a, nil)
	require.True(t, errors.Is(err, ErrNoSpace))
	st, _ := m.State(a)
	require.True(t, st.Swapped)
	inv(t, m)
	// Freeing a swapped sequence returns its host blocks.
	require.NoError(t, m.Free(a))
	require.Equal(t, 8, m.Stats().HostFree)
	_, err = New(Config{NumBlocks: 4, BlockSize: 4, StatsWindow: 1, HostBlocks: -1})
	require.True(t, errors.Is(err, ErrInvalidConfig))
}
