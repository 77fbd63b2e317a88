package sim

import (
	"testing"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// mooncakeFleet is Mooncake FAST'25 Fig. 10's prefill pool: 10 prefill engines of a
// LLaMA3-70B-class model (8×A100-80GB each), each with a 3M-token cache (the GPUs'
// 1.46M tokens and a host tier for the rest), KV blocks of 256 tokens as in the
// paper's experiments (§5.1).
func mooncakeFleet(t testing.TB, router, mode string) ClusterConfig {
	cfg := DefaultConfig()
	cfg.Hardware = hardware.Deployment{Model: model(t, "llama-3.1-70b"), GPU: gpu(t, "a100-80"), TP: 8}
	cfg.BlockSize = 256
	return ClusterConfig{Engine: cfg, Engines: 10, Router: router, CacheMode: mode, CacheTokens: 3_000_000, PrefillOnly: true}
}

// Mooncake FAST'25 Fig. 10: 10 prefill engines with 3M-token local caches against
// one global cache (published-numbers.md §3.1: hit rate conversation ≈ 17 → 38%,
// synthetic ≈ 27 → 62%; prefill time global / local 0.76× and 0.52×). The global
// cache is reproduced within ±4 points whatever the routing. The published local
// figure is not a property of the caches alone but of how requests were spread: it
// lies between what random routing (every engine sees a tenth of each prefix's
// traffic) and cache-aware routing (each prefix stays on one engine) give here, and
// so do the published ratios (see the package doc, "Cluster mode").
func TestClusterMooncakeFig10(t *testing.T) {
	for _, tc := range []struct {
		trace                       string
		local, global, prefillRatio float64 // published
	}{
		{"mooncake_conversation_trace.jsonl", 17, 38, 0.76},
		{"mooncake_synthetic_trace.jsonl", 27, 62, 0.52},
	} {
		src, err := workload.OpenTrace(tracePath(t, tc.trace), workload.TraceOptions{})
		require.NoError(t, err)
		if raceOn {
			src = workload.Take(src, 300)
		}
		reqs, err := workload.Collect(src)
		require.NoError(t, err)
		res := map[string]*ClusterResult{}
		for _, mode := range []string{CacheLocal, CacheGlobal} {
			for _, router := range []string{"precise", "random"} {
				r := runCluster(t, mooncakeFleet(t, router, mode), reqs)
				res[mode+"/"+router] = r
				t.Logf("%s %-6s %-7s hit %.1f%% (remote %.1f%%, host tier %.1f%%), prefill saved %.1f%%, TTFT mean %.2fs p90 %.2fs, %d transfers of %.3fs, %.1fs",
					tc.trace, mode, router, r.HitRatePct, r.RemoteHitPct, r.HostHitPct, r.PrefillSavedPct, r.TTFTMeanS, r.TTFTP90S,
					r.Transfers, r.TransferMeanS, r.WallS)
				require.Equal(t, 3_000_000/256*256, r.CacheTokens)
				require.Positive(t, r.HostTokens, "3M tokens is more than the GPUs hold: the rest is a host tier")
				require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected)
				require.Zero(t, r.IndexErrors)
			}
		}
		for _, router := range []string{"precise", "random"} {
			l, g := res["local/"+router], res["global/"+router]
			require.Greater(t, g.HitRatePct, l.HitRatePct, "%s: the global cache hits more", router)
			require.Zero(t, l.RemoteHitPct)
			require.Positive(t, g.RemoteHitPct)
		}
		if !paperChecks(t) {
			continue
		}
		need := func(r *ClusterResult) float64 { return 1 - r.PrefillSavedPct/100 } // prefill compute left
		lp, lr := res["local/precise"], res["local/random"]
		for _, router := range []string{"precise", "random"} {
			require.InDelta(t, tc.global, res["global/"+router].HitRatePct, 4, "%s global hit rate", router)
		}
		// Published local hit rate, global/local ratio and prefill-time ratio lie
		// between the two routings' results.
		require.Less(t, lr.HitRatePct, tc.local)
		require.Greater(t, lp.HitRatePct, tc.local)
		pub := tc.global / tc.local
		require.Less(t, res["global/precise"].HitRatePct/lp.HitRatePct, pub)
		require.Greater(t, res["global/random"].HitRatePct/lr.HitRatePct, pub)
		require.Greater(t, need(res["global/precise"])/need(lp), tc.prefillRatio)
		require.Less(t, need(res["global/random"])/need(lr), tc.prefillRatio)
	}
}
