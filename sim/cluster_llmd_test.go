package sim

import (
	"testing"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// llmdFleet is llm-d's 37-capacity deployment: 4 engines of Llama-3.1-70B, each on
// 4×H100 (TP 4), with the effective KV capacity the benchmark states (461,376
// tokens per pod), behind router.
func llmdFleet(t testing.TB, router string) ClusterConfig {
	cfg := DefaultConfig()
	cfg.Hardware = hardware.Deployment{Model: model(t, "llama-3.1-70b"), GPU: gpu(t, "h100-80"), TP: 4}
	return ClusterConfig{Engine: cfg, Engines: 4, Router: router, CacheTokens: 461376, Selector: SelectorLLMD,
		ReplicaTokens: 2200 * 64}
}

func TestLLMD37CapacityExplore(t *testing.T) {
	w := workload.LLMD37Capacity()
	reqs, err := workload.Collect(w.Source())
	require.NoError(t, err)
	for _, router := range []string{"precise", "approximate", "load", "random"} {
		cfg := llmdFleet(t, router)
		cfg.Windows, cfg.DrainWindows = w.StageStarts(), true
		r := runCluster(t, cfg, reqs)
		t.Logf("%-12s hit %.1f%% ttft mean %.2f p90 %.2f tok/s %.0f imb %.2f preempt %d wall %.1fs dec/s %.0f",
			router, r.HitRatePct, r.TTFTMeanS, r.TTFTP90S, r.ThroughputTokS, r.Imbalance, r.Preemptions, r.WallS, r.RouterDecisionsPerS)
		for _, win := range r.Windows {
			t.Logf("   stage @%4.0f: n %d p90 %.2f mean %.2f tok/s %.0f", win.Start, win.Requests, win.TTFTP90S, win.TTFTMeanS, win.ThroughputTokS)
		}
	}
}
