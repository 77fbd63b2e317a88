package paged

import (
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
