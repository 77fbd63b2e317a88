package paged

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func hostCache(policy HostCachePolicy, hostBlocks int) func(*Config) {
	return func(c *Config) { c.HostBlocks, c.HostCache.Policy = hostBlocks, policy }
}

// admitAll admits a prompt in one chunk, computes it and returns the admission.
func admitAll(t testing.TB, m *Manager, prompt []int32, opts SeqOptions) (SeqID, Admitted) {
	t.Helper()
	id, err := m.Add(prompt, opts)
	require.NoError(t, err)
	adm, err := m.Admit(id, len(prompt), 0, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitNow, adm.Admission)
	require.NoError(t, m.MarkComputed(id, adm.N))
	inv(t, m)
	return id, adm
}

// Write-back: the cached block an allocation evicts is copied to the host by the
// call that allocates it, ahead of the copies that write it; a later prompt finds
// it in the host tier and the admission onloads it into a fresh device block.
func (s suite) TestHostCacheWriteBackOffloadAndOnload(t *testing.T) {
	m := s.newMgr(t, 4, 4, hostCache(WriteBack, 4), eventsOn(false), noWatermark)
	rec := newRecorder(false)
	a, _ := admitAll(t, m, span(0, 9), SeqOptions{}) // blocks 0 1 cached, 2 partial
	require.NoError(t, m.Free(a))
	// Free queue: the partial block, the unused one, then the cached ones LRU
	// (tail first: 1 before 0).
	require.Equal(t, pick(s, []int32{2, 3, 1, 0}, []int32{3, 2, 1, 0}), freeOrder(m))
	b, adm := admitAll(t, m, span(100, 11), SeqOptions{}) // 3 blocks: evicts block 1
	require.Equal(t, []BlockCopy{{Src: 1, Dst: 0, Dir: DeviceToHost}}, adm.Copies, "the evicted cached block goes to host block 0")
	require.Equal(t, uint64(1), m.Stats().Offloads)
	require.Equal(t, 1, m.Stats().HostCachedBlocks)
	rec.drain(t, m)
	require.NoError(t, rec.matches(m))
	require.NoError(t, m.Free(b))
	hit, err := m.LookupPromptTiers(span(0, 9), SeqOptions{})
	require.NoError(t, err)
	require.Equal(t, PrefixHit{Tokens: 8, Device: 4, Host: 4}, hit)
	c, err := m.Add(span(0, 9), SeqOptions{})
	require.NoError(t, err)
	adm, err = m.Admit(c, 9, 0, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitNow, adm.Admission)
	require.Equal(t, 8, adm.Claimed)
	require.Equal(t, 4, adm.Onloaded)
	tb := table(t, m, c)
	require.Equal(t, int32(0), tb[0], "the device hit is claimed in place")
	require.Contains(t, adm.Copies, BlockCopy{Src: 0, Dst: tb[1], Dir: HostToDevice})
	onload := -1
	for i, cp := range adm.Copies {
		if cp.Dir == HostToDevice {
			onload = i
		}
		if cp.Dir == DeviceToHost {
			require.Less(t, i, max(onload, len(adm.Copies)), "offloads come first")
		}
	}
	st := m.Stats()
	require.Equal(t, uint64(1), st.Onloads)
	require.Equal(t, uint64(4), st.HostHits)
	_, kept := m.host.Hash(0)
	require.True(t, kept, "inclusive: the host keeps its copy")
	rec.drain(t, m)
	require.NoError(t, rec.matches(m))
	require.NoError(t, m.MarkComputed(c, 1))
	require.NoError(t, m.Free(c))
	inv(t, m)
	// Evicting the onloaded block again needs no copy: the host still has it.
	_, adm = admitAll(t, m, span(200, 15), SeqOptions{})
	offloaded := map[int32]bool{}
	for _, cp := range adm.Copies {
		require.Equal(t, DeviceToHost, cp.Dir, "a fresh prompt only offloads")
		offloaded[cp.Src] = true
	}
	require.False(t, offloaded[tb[1]], "the onloaded block was copied back: %v", adm.Copies)
	require.True(t, offloaded[0], "block 0 had no host copy: %v", adm.Copies)
	inv(t, m)
}

func noWatermark(c *Config) { c.Watermark, c.DisableWatermark = 0, true }

// Write-through copies a block to the host when it is registered; the copy comes in
// the next call that returns a copy list (here a decode step), and evicting the block
// later needs none. With MinHits only blocks hit that often are copied (HiCache's
// selective write-through).
func TestHostCacheWriteThrough(t *testing.T) {
	m := newMgr(t, 8, 4, hostCache(WriteThrough, 8), noWatermark)
	a, _ := admitAll(t, m, span(0, 7), SeqOptions{}) // block 0 registered
	st := m.Stats()
	require.Equal(t, 1, st.WriteThroughQueued, "block 0 is full and computed")
	slots := make([]int64, 1)
	copies, err := m.DecodeStep([]SeqID{a}, []int32{9}, 0, slots, nil)
	require.NoError(t, err)
	require.Equal(t, []BlockCopy{{Src: 0, Dst: 0, Dir: DeviceToHost}}, copies, "the queued copy leads the list")
	require.Zero(t, m.Stats().WriteThroughQueued)
	require.Equal(t, uint64(1), m.Stats().Offloads)
	inv(t, m)

	m = newMgr(t, 8, 4, hostCache(WriteThrough, 8), noWatermark, func(c *Config) { c.HostCache.MinHits = 2 })
	a, _ = admitAll(t, m, span(0, 5), SeqOptions{})
	require.Zero(t, m.Stats().WriteThroughQueued, "not hit yet")
	b, adm := admitAll(t, m, span(0, 6), SeqOptions{})
	require.Equal(t, 4, adm.Claimed)
	require.Zero(t, m.Stats().WriteThroughQueued, "hit once")
	_, adm = admitAll(t, m, span(0, 7), SeqOptions{})
	require.Equal(t, 4, adm.Claimed)
	require.Equal(t, 1, m.Stats().WriteThroughQueued, "hit twice: queued")
	_, err = m.SwapOut(b, nil) // any call returning a list flushes
	require.True(t, errors.Is(err, ErrNoSpace) || err == nil)
	_, _ = m.Reserve(a, 0, 1, nil)
	require.Zero(t, m.Stats().WriteThroughQueued)
	require.Equal(t, uint64(1), m.Stats().Offloads)
	inv(t, m)
}

// MinPriority: blocks below it are dropped on eviction instead of copied.
func TestHostCacheMinPriority(t *testing.T) {
	m := newMgr(t, 2, 4, hostCache(WriteBack, 4), noWatermark, func(c *Config) { c.HostCache.MinPriority = 10 })
	a, _ := admitAll(t, m, span(0, 5), SeqOptions{Priority: 5})
	require.NoError(t, m.Free(a))
	b, _ := admitAll(t, m, span(100, 5), SeqOptions{Priority: 10})
	require.NoError(t, m.Free(b))
	_, adm := admitAll(t, m, span(200, 8), SeqOptions{}) // evicts both cached blocks
	require.Equal(t, []BlockCopy{{Src: 1, Dst: 0, Dir: DeviceToHost}}, adm.Copies, "only the priority-10 block is copied")
	require.Equal(t, uint64(2), m.Stats().Evictions)
	inv(t, m)
}

// The host pool is shared with swapping: SwapOut evicts cached host copies (LRU) to
// make room, with CPU BlockRemoved events; an offload with no free host block is
// skipped.
func TestHostCacheSharesThePoolWithSwap(t *testing.T) {
	m := newMgr(t, 4, 4, hostCache(WriteBack, 2), noWatermark, eventsOn(false))
	rec := newRecorder(false)
	a, _ := admitAll(t, m, span(0, 9), SeqOptions{})
	require.NoError(t, m.Free(a))
	admitAll(t, m, span(100, 16), SeqOptions{}) // evicts 0 and 1: both copied
	st := m.Stats()
	require.Equal(t, 2, st.HostCachedBlocks)
	require.Equal(t, 2, st.HostFree, "cached host copies count as free")
	rec.drain(t, m)
	require.NoError(t, rec.matches(m))
	m2 := newMgr(t, 4, 4, hostCache(WriteBack, 3), noWatermark, eventsOn(false))
	rec = newRecorder(false)
	a, _ = admitAll(t, m2, span(0, 9), SeqOptions{})
	require.NoError(t, m2.Free(a))
	c, _ := admitAll(t, m2, span(100, 12), SeqOptions{}) // evicts block 1 (copied) only
	require.Equal(t, 1, m2.Stats().HostCachedBlocks)
	copies, err := m2.SwapOut(c, nil) // 3 host blocks: evicts the cached copy
	require.NoError(t, err)
	require.Len(t, copies, 3)
	require.Zero(t, m2.Stats().HostCachedBlocks)
	require.Equal(t, uint64(1), m2.Stats().HostEvictions)
	rec.drain(t, m2)
	require.NoError(t, rec.matches(m2))
	// The host is full of a swapped sequence: evicting a cached device block drops it.
	_, adm := admitAll(t, m2, span(300, 16), SeqOptions{})
	require.Empty(t, adm.Copies)
	require.Equal(t, uint64(1), m2.Stats().Offloads)
	inv(t, m2)
}

// ResetPrefixCache empties both tiers (two AllBlocksCleared events) and keeps
// swapped sequences' host blocks.
func TestHostCacheReset(t *testing.T) {
	m := newMgr(t, 4, 4, hostCache(WriteBack, 8), noWatermark, eventsOn(false))
	rec := newRecorder(false)
	a, _ := admitAll(t, m, span(0, 9), SeqOptions{})
	require.NoError(t, m.Free(a))
	c, _ := admitAll(t, m, span(100, 13), SeqOptions{})
	_, err := m.SwapOut(c, nil)
	require.NoError(t, err)
	require.NotZero(t, m.Stats().HostCachedBlocks)
	require.NoError(t, m.ResetPrefixCache())
	st := m.Stats()
	require.Zero(t, st.HostCachedBlocks)
	require.Zero(t, st.CachedBlocks)
	rec.drain(t, m)
	require.Equal(t, 2, rec.cleared)
	require.NoError(t, rec.matches(m))
	_, err = m.SwapIn(c, nil)
	require.NoError(t, err)
	inv(t, m)
}
