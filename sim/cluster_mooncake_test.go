package sim

import (
	"testing"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// mooncakeFleet is Mooncake FAST'25 Fig. 10's prefill pool: 10 prefill engines of
// a LLaMA3-70B-class model, each with a 3M-token cache.
func mooncakeFleet(t testing.TB, router, mode string) ClusterConfig {
	cfg := DefaultConfig()
	cfg.Hardware = hardware.Deployment{Model: model(t, "llama-3.1-70b"), GPU: gpu(t, "a100-80"), TP: 8}
	return ClusterConfig{Engine: cfg, Engines: 10, Router: router, CacheMode: mode, CacheTokens: 3_000_000, PrefillOnly: true}
}

func TestMooncakeExplore(t *testing.T) {
	for _, name := range []string{"mooncake_conversation_trace.jsonl", "mooncake_synthetic_trace.jsonl"} {
		reqs, err := workload.LoadTrace(tracePath(t, name), workload.TraceOptions{})
		require.NoError(t, err)
		for _, mode := range []string{CacheLocal} {
			for _, router := range []string{"load", "round-robin", "approximate"} {
				r := runCluster(t, mooncakeFleet(t, router, mode), reqs)
				t.Logf("%s %-6s %-8s hit %.1f%% remote %.1f%% saved %.1f%% ttft mean %.2f p90 %.2f imb %.2f transfers %d (%.3fs) wall %.1fs dec/s %.0f",
					name[9:13], mode, router, r.HitRatePct, r.RemoteHitPct, r.PrefillSavedPct, r.TTFTMeanS, r.TTFTP90S, r.Imbalance,
					r.Transfers, r.TransferMeanS, r.WallS, r.RouterDecisionsPerS)
			}
		}
	}
}
