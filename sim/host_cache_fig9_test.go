package sim

import (
	"encoding/binary"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// fig9Engine is one engine that keeps up with the Mooncake traces' arrivals
// (TTFT under a second without a host tier, so the hit rates are not a backlog's):
// Llama-3.1-8B on 4×H100, 2.24M KV tokens, with the trace's 512-token hash blocks
// as KV blocks. cacheTokens, if beyond the GPUs' tokens, adds a host tier for the
// rest.
func fig9Engine(t testing.TB, cacheTokens int, async bool) Config {
	cfg := DefaultConfig()
	cfg.Hardware = hardware.Deployment{Model: model(t, "llama-3.1-8b"), GPU: gpu(t, "h100-80"), TP: 4}
	cfg.BlockSize = workload.MooncakeBlock
	c := cfg.withDefaults()
	if host := cacheTokens/cfg.BlockSize - c.kvBlocks(); host > 0 {
		cfg.HostCacheGiB = (float64(host) + 0.5) * c.engineBlockBytes() / hardware.GiB
		cfg.AsyncOffload = async
	}
	return cfg
}

// idealHitPct is the hit rate of an unbounded prefix cache that serves reqs one
// after the other: each prompt finds the leading full blocks an earlier prompt
// had (never its last token), then caches all of its own. No engine does better:
// one that serves requests concurrently misses what an earlier request has not
// computed yet.
func idealHitPct(reqs []workload.Request, bs int) float64 {
	seen := map[uint64]bool{}
	buf := make([]byte, 8+4*bs)
	var queried, hits int
	var chain []uint64
	for _, r := range reqs {
		chain = chain[:0]
		var h uint64
		for j := range len(r.Prompt) / bs {
			binary.LittleEndian.PutUint64(buf, h)
			for i, tok := range r.Prompt[j*bs : (j+1)*bs] {
				binary.LittleEndian.PutUint32(buf[8+4*i:], uint32(tok))
			}
			h = xxhash.Sum64(buf)
			chain = append(chain, h)
		}
		n := 0
		for n < (len(r.Prompt)-1)/bs && seen[chain[n]] {
			n++
		}
		for _, h := range chain {
			seen[h] = true
		}
		queried += len(r.Prompt)
		hits += n * bs
	}
	return 100 * float64(hits) / float64(queried)
}

// Mooncake FAST'25 Fig. 9 (published-numbers.md §3.1): the hit rate against the
// cache's size. With a 3M-token cache (device and host tiers together) the
// conversation trace reaches 41% of the maximum hit rate and the synthetic one
// 46%; about 50M tokens almost reach the maximum. Here one engine's cache grows by
// a write-back host tier: the hit rate rises with it and approaches the
// infinite-cache hit rate (idealHitPct), which the 50M-token cache reaches within
// 5%; the published 3M-token shares lie between the shares at 2.5M and 3.5M tokens
// (the bracket's reason: the package doc, "Host prefix cache"). A host tier cuts
// TTFT when offloads overlap the forward pass; charged to the iterations as swaps
// are, the offloads cost time the onloads must first win back.
func TestHostCacheMooncakeFig9(t *testing.T) {
	for _, tc := range []struct {
		trace string
		share float64 // published: hit rate at 3M tokens over the maximum, %
	}{
		{"mooncake_conversation_trace.jsonl", 41},
		{"mooncake_synthetic_trace.jsonl", 46},
	} {
		src, err := workload.OpenTrace(tracePath(t, tc.trace), workload.TraceOptions{})
		require.NoError(t, err)
		sizes := []int{0, 2_500_000, 3_500_000, 50_000_000} // cache tokens; 0: the GPUs' alone
		if raceOn {
			if tc.share != 41 {
				t.Logf("race detector: the first requests of the synthetic trace fit the GPUs; only the conversation trace's run")
				continue
			}
			src, sizes = workload.Take(src, 300), []int{0, 2_500_000, 50_000_000}
		}
		all, err := workload.Collect(src)
		require.NoError(t, err)
		// Prompts beyond the model's 128K context (10 of the synthetic trace's
		// 3,993) are rejected by the engine and would be counted by idealHitPct.
		ctx := fig9Engine(t, 0, false).withDefaults().Hardware.Model.MaxSeqLen
		var reqs []workload.Request
		for _, r := range all {
			if len(r.Prompt) < ctx {
				reqs = append(reqs, r)
			}
		}
		ideal := idealHitPct(reqs, workload.MooncakeBlock)
		var res []*Result
		for _, size := range sizes {
			r := run(t, fig9Engine(t, size, false), reqs)
			d := r.CacheDetail
			t.Logf("%s: %10d cache tokens (host %10d): hit %.1f%% (device %.1f, host %.1f) = %.0f%% of ideal %.1f%%, prefill saved %.1f%%, "+
				"onloaded %d, offloaded %d, copies %.0fs, TTFT mean %.3fs p50 %.3f p90 %.3f", tc.trace, d.CacheTokens, d.HostTokens,
				d.HitRatePct, d.DeviceHitPct, d.HostHitPct, 100*d.HitRatePct/ideal, ideal, d.PrefillSavedPct, d.OnloadedBlocks,
				d.OffloadedBlocks, d.HostCopyS, d.TTFTMeanS, d.TTFTP50S, d.TTFTP90S)
			require.Equal(t, len(reqs), r.RequestsCompleted)
			if size > 0 {
				require.InDelta(t, size, d.CacheTokens, workload.MooncakeBlock)
				prev := res[len(res)-1].CacheDetail
				require.Greater(t, d.HitRatePct, prev.HitRatePct, "the hit rate rises with the cache")
				require.Greater(t, d.PrefillSavedPct, prev.PrefillSavedPct)
				require.Positive(t, d.HostHitPct)
			}
			require.LessOrEqual(t, d.HitRatePct, ideal+1e-9, "no cache beats an unbounded one")
			res = append(res, r)
		}
		last := res[len(res)-1].CacheDetail
		require.Greater(t, last.HitRatePct, 0.95*ideal, "50M tokens almost reach the infinite-cache hit rate")
		if paperChecks(t) {
			lo, hi := 100*res[1].HitRatePct/ideal, 100*res[2].HitRatePct/ideal
			t.Logf("%s: published share at 3M tokens %.0f%% within [%.1f%%, %.1f%%] (2.5M, 3.5M tokens)", tc.trace, tc.share, lo, hi)
			require.Less(t, lo, tc.share)
			require.Greater(t, hi, tc.share)
		}
		// TTFT with and without the host tier.
		none := res[0].CacheDetail
		async := run(t, fig9Engine(t, sizes[len(sizes)-1], true), reqs).CacheDetail
		t.Logf("%s: TTFT mean/p50/p90 without a host tier %.3f/%.3f/%.3f s; 50M tokens, offloads charged %.3f/%.3f/%.3f s, asynchronous %.3f/%.3f/%.3f s",
			tc.trace, none.TTFTMeanS, none.TTFTP50S, none.TTFTP90S, last.TTFTMeanS, last.TTFTP50S, last.TTFTP90S,
			async.TTFTMeanS, async.TTFTP50S, async.TTFTP90S)
		require.InDelta(t, last.HitRatePct, async.HitRatePct, 0.5, "the same cache either way")
		require.Less(t, async.HostCopyS, last.HostCopyS)
		require.Less(t, async.TTFTMeanS, last.TTFTMeanS, "offloads off the critical path")
		require.Less(t, async.TTFTMeanS, none.TTFTMeanS, "onloads instead of prefills")
	}
}
