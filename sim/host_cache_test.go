package sim

import (
	"testing"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

func TestHostCacheConfigErrors(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: workload.Alpaca(), Requests: 3, Seed: 1})
	for name, c := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"NaN":                {func(c *Config) { c.HostCacheGiB = nan() }, "HostCacheGiB NaN"},
		"negative":           {func(c *Config) { c.HostCacheGiB = -1 }, "HostCacheGiB -1"},
		"huge":               {func(c *Config) { c.HostCacheGiB = 1e30 }, "HostCacheGiB 1e+30"},
		"under a block":      {func(c *Config) { c.HostCacheGiB = 1e-6 }, "less than one KV block"},
		"too many blocks":    {func(c *Config) { c.HostCacheGiB = MaxHostCacheGiB; c.BlockSize = 1 }, "host blocks of 1 tokens"},
		"policy":             {func(c *Config) { c.HostCacheGiB, c.HostCachePolicy = 1, "lru" }, "unknown HostCachePolicy \"lru\""},
		"policy, no tier":    {func(c *Config) { c.HostCachePolicy = HostCacheWriteThrough }, "HostCachePolicy \"write-through\" without a host tier"},
		"async, no tier":     {func(c *Config) { c.AsyncOffload = true }, "AsyncOffload without a host tier"},
		"min hits negative":  {func(c *Config) { c.HostCacheGiB, c.HostCacheMinHits = 1, -1 }, "HostCacheMinHits -1"},
		"min hits huge":      {func(c *Config) { c.HostCacheGiB, c.HostCacheMinHits = 1, paged.MaxMinHits+1 }, "HostCacheMinHits"},
		"min hits, not sel.": {func(c *Config) { c.HostCacheGiB, c.HostCacheMinHits = 1, 2 }, "needs HostCachePolicy write-through-selective"},
		"no prefix caching":  {func(c *Config) { c.HostCacheGiB, c.DisablePrefixCaching = 1, true }, "DisablePrefixCaching"},
		"window freeing": {func(c *Config) {
			c.HostCacheGiB, c.Hardware.Model, c.Hardware.GPU = 1, model(t, "gemma-2-9b"), gpu(t, "a100-80")
		}, "set DisableWindowFreeing"},
	} {
		cfg := DefaultConfig()
		c.mod(&cfg)
		_, err := Run(cfg, workload.Slice(reqs))
		require.ErrorIs(t, err, ErrInvalid, name)
		require.ErrorContains(t, err, c.want, name)
	}
	// Cluster mode sizes the tier with CacheTokens; the policy needs that tier.
	for name, c := range map[string]struct {
		mod  func(*ClusterConfig)
		want string
	}{
		"GiB":              {func(c *ClusterConfig) { c.Engine.HostCacheGiB = 1 }, "size the engines' host tier with CacheTokens"},
		"policy, no tier":  {func(c *ClusterConfig) { c.Engine.HostCachePolicy = HostCacheWriteBack }, "HostCachePolicy \"write-back\" without a host tier"},
		"async, no tier":   {func(c *ClusterConfig) { c.Engine.AsyncOffload = true }, "AsyncOffload without a host tier"},
		"policy, GPU only": {func(c *ClusterConfig) { c.Engine.HostCachePolicy, c.CacheTokens = HostCacheWriteBack, 1000 }, "without a host tier"},
	} {
		cfg := ClusterConfig{Engines: 2}
		c.mod(&cfg)
		_, err := RunCluster(cfg, workload.Slice(reqs))
		require.ErrorIs(t, err, ErrInvalid, name)
		require.ErrorContains(t, err, c.want, name)
	}
	require.Equal(t, []string{HostCacheWriteBack, HostCacheWriteThrough, HostCacheWriteThroughSelective}, HostCachePolicyNames())
}

// hostCacheWorkload is multi-turn chat on the default deployment (OPT-13B, 15.8K
// KV slots): later turns repeat their session's history, which the small device
// cache has often evicted by then.
func hostCacheWorkload(t *testing.T) []workload.Request {
	return generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 2, Requests: horizon(500, 120), Seed: 14, Turns: 4})
}

// A host tier turns device misses into host hits: the hit rate splits into device
// and host, grows with the tier, saves prefill compute, and every onload, offload
// and the time they cost is accounted for; the invariants of both tiers hold
// throughout.
func TestHostCacheHits(t *testing.T) {
	reqs := hostCacheWorkload(t)
	var prev *Result
	for _, gib := range []float64{0, 2, 8} {
		cfg := DefaultConfig()
		cfg.HostCacheGiB = gib
		cfg.checkEvery = horizon(7, 23)
		r := run(t, cfg, reqs)
		d := r.CacheDetail
		require.NotNil(t, d)
		t.Logf("host %g GiB (%d tokens): hit %.1f%% (device %.1f, host %.1f), saved %.1f%%, onloaded %d, offloaded %d, copies %.2fs, TTFT mean %.2fs p50 %.2f p90 %.2f",
			gib, d.HostTokens, d.HitRatePct, d.DeviceHitPct, d.HostHitPct, d.PrefillSavedPct, d.OnloadedBlocks, d.OffloadedBlocks,
			d.HostCopyS, d.TTFTMeanS, d.TTFTP50S, d.TTFTP90S)
		require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected)
		require.Equal(t, r.RequestsRejected, r.RequestsTooLong, "later turns may outgrow OPT-13B's context; nothing else is refused")
		require.InDelta(t, 100*r.PrefixHitRate, d.HitRatePct, 1e-9, "the manager's and the engine's counts agree")
		require.InDelta(t, d.HitRatePct, d.DeviceHitPct+d.HostHitPct, 1e-9)
		require.InDelta(t, r.MeanTTFTS, d.TTFTMeanS, 1e-9)
		require.LessOrEqual(t, d.TTFTP50S, d.TTFTP90S)
		require.LessOrEqual(t, d.TTFTP90S, d.TTFTP99S)
		require.Equal(t, r.NumBlocks*r.BlockSize+d.HostTokens, d.CacheTokens)
		if gib == 0 {
			require.Equal(t, "off", d.HostCachePolicy)
			require.Zero(t, d.HostHitPct)
			require.Zero(t, d.OnloadedBlocks+d.OffloadedBlocks)
			require.Zero(t, d.HostCopyS)
		} else {
			require.Equal(t, HostCacheWriteBack, d.HostCachePolicy)
			require.Equal(t, int(gib*(1<<30)/(16*cfg.Hardware.WithDefaults().KVBytesPerTokenPerGPU()))*16, d.HostTokens)
			require.Positive(t, d.HostHitPct)
			require.Positive(t, d.OnloadedBlocks)
			require.Greater(t, d.OffloadedBlocks, d.OnloadedBlocks, "write-back offloads every evicted cached block")
			want := cfg.Hardware.WithDefaults().HostCopyTime(int(d.OnloadedBlocks+d.OffloadedBlocks), 16)
			require.InDelta(t, want, d.HostCopyS, 1e-9*want, "every copy is charged")
			require.Greater(t, d.HitRatePct, prev.HitRatePct)
			require.Greater(t, d.PrefillSavedPct, prev.PrefillSavedPct)
		}
		prev = r
	}
}

// The policies: write-through copies blocks as they are computed, so it copies
// more than write-back; the selective policy copies only blocks hit again, fewer;
// asynchronous offloads find the same hits but charge only the onloads.
func TestHostCachePolicies(t *testing.T) {
	reqs := hostCacheWorkload(t)
	res := map[string]*CacheDetail{}
	for _, name := range []string{HostCacheWriteBack, HostCacheWriteThrough, HostCacheWriteThroughSelective, "async"} {
		cfg := DefaultConfig()
		cfg.HostCacheGiB, cfg.HostCachePolicy = 4, name
		if name == "async" {
			cfg.HostCachePolicy, cfg.AsyncOffload = "", true
		}
		cfg.checkEvery = horizon(9, 31)
		d := run(t, cfg, reqs).CacheDetail
		t.Logf("%-23s hit %.1f%% (host %.1f), onloaded %d, offloaded %d, copies %.2fs, TTFT mean %.2fs",
			name, d.HitRatePct, d.HostHitPct, d.OnloadedBlocks, d.OffloadedBlocks, d.HostCopyS, d.TTFTMeanS)
		require.Positive(t, d.HostHitPct, name)
		res[name] = d
	}
	wb, wt, sel, async := res[HostCacheWriteBack], res[HostCacheWriteThrough], res[HostCacheWriteThroughSelective], res["async"]
	require.Equal(t, HostCacheWriteThrough, wt.HostCachePolicy)
	require.Equal(t, HostCacheWriteThroughSelective, sel.HostCachePolicy)
	require.Greater(t, wt.OffloadedBlocks, wb.OffloadedBlocks)
	require.Less(t, sel.OffloadedBlocks, wt.OffloadedBlocks)
	require.Greater(t, wt.HostCopyS, wb.HostCopyS)
	require.True(t, async.AsyncOffload)
	require.Equal(t, HostCacheWriteBack, async.HostCachePolicy)
	hw := DefaultConfig().withDefaults().Hardware
	require.InDelta(t, hw.HostCopyTime(int(async.OnloadedBlocks), 16), async.HostCopyS, 1e-9, "only onloads are charged")
	require.Less(t, async.TTFTMeanS, wb.TTFTMeanS, "offloads off the critical path")
}

// The swap space and the host cache share paged's one host pool, but swapped-out
// KV never owns more than the swap space: a victim that needs more is recomputed
// even when the cache's blocks are free.
func TestSwapSpaceIsCappedInTheSharedPool(t *testing.T) {
	for _, swap := range []int{4, 8} {
		p, err := newPagedPolicy(pagedConfig{NumBlocks: 64, BlockSize: 16, HostBlocks: 20, SwapBlocks: swap,
			HostCache: paged.HostCacheOptions{Policy: paged.WriteBack}})
		require.NoError(t, err)
		f := &breakdownFixture{t: t, p: p}
		prompt := make([]int32, 100) // 7 blocks computed
		for i := range prompt {
			prompt[i] = int32(i + 1)
		}
		r := f.request(prompt, 10, 1, 0)
		f.prefill(r)
		f.commit(r)
		n := p.swapOut(r)
		if swap < 7 {
			require.Equal(t, -1, n, "7 blocks do not fit a swap space of %d", swap)
			require.Zero(t, p.m.Stats().SwapOuts)
		} else {
			require.Equal(t, 7, n)
			require.Equal(t, 20-7, p.m.Stats().HostFree)
		}
		require.NoError(t, p.m.CheckInvariants())
	}
	// End to end: swapping and the host cache together keep both tiers' invariants.
	cfg := DefaultConfig()
	cfg.SwapSpaceGiB, cfg.HostCacheGiB = 1, 2
	cfg.checkEvery = horizon(5, 19)
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 3, Requests: horizon(400, 100), Seed: 15, Turns: 3})
	r := run(t, cfg, reqs)
	require.Positive(t, r.SwapOuts)
	require.Positive(t, r.HostHitPct)
	require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsTooLong)
}
