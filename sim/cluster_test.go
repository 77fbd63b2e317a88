package sim

import (
	"testing"

	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

func runCluster(t testing.TB, cfg ClusterConfig, reqs []workload.Request) *ClusterResult {
	t.Helper()
	r, err := RunCluster(cfg, workload.Slice(reqs))
	require.NoError(t, err)
	return r
}

// One engine behind any router is the single-engine simulator: the fleet's event
// loop (begin and commit at their own times, requests pushed at arrival) changes
// nothing.
func TestClusterOfOneIsRun(t *testing.T) {
	for _, w := range []workload.Synthetic{
		{Profile: workload.ShareGPT(), Rate: 2, Requests: horizon(600, 60), Seed: 21, SystemPrompt: 300, SystemFraction: 0.5},
		{Profile: workload.Alpaca(), Rate: 0, Requests: horizon(400, 50), Seed: 22, Beam: 3},
	} {
		reqs := generate(t, w)
		single := run(t, DefaultConfig(), reqs)
		for _, router := range []string{"precise", "approximate", "load", "random", "round-robin"} {
			cfg := ClusterConfig{Engine: DefaultConfig(), Router: router}
			cfg.Engine.checkEvery = horizon(50, 10)
			c := runCluster(t, cfg, reqs)
			require.Equal(t, single.RequestsCompleted, c.RequestsCompleted, router)
			require.Equal(t, single.Preemptions, c.Preemptions, router)
			require.InDelta(t, single.MeanTTFTS, c.TTFTMeanS, 1e-9, router)
			require.InDelta(t, single.ThroughputTokS, c.ThroughputTokS, 1e-6, router)
			require.InDelta(t, 100*single.PrefixHitRate, c.HitRatePct, 1e-9, router)
			require.InDelta(t, single.MeanBatch, c.PerEngine[0].MeanBatch, 1e-9, router)
			require.InDelta(t, single.TokenStatesPct, c.PerEngine[0].TokenStatesPct, 1e-9, router)
			require.InDelta(t, 1, c.Imbalance, 1e-12)
		}
	}
}
