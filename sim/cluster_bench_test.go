package sim

import (
	"fmt"
	"testing"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// BenchmarkClusterMooncake runs the Mooncake conversation trace through a fleet of
// Llama-3.1-70B engines (4×H100 each, block 16) behind the precise router: how run
// time grows with engines (all 12,031 requests) and with requests (16 engines).
// Each iteration is a whole run; use -benchtime 1x.
//
//	go test -run XXX -bench ClusterMooncake -benchtime 1x ./sim
func BenchmarkClusterMooncake(b *testing.B) {
	reqs, err := workload.LoadTrace(tracePath(b, "mooncake_conversation_trace.jsonl"), workload.TraceOptions{})
	require.NoError(b, err)
	cfg := DefaultConfig()
	cfg.Hardware = hardware.Deployment{Model: model(b, "llama-3.1-70b"), GPU: gpu(b, "h100-80"), TP: 4}
	for _, c := range []struct{ engines, requests int }{
		{4, len(reqs)}, {16, len(reqs)}, {64, len(reqs)}, {16, 3000}, {16, 6000},
	} {
		b.Run(fmt.Sprintf("engines=%d/requests=%d", c.engines, c.requests), func(b *testing.B) {
			for b.Loop() {
				r, err := RunCluster(ClusterConfig{Engine: cfg, Engines: c.engines}, workload.Slice(reqs[:c.requests]))
				require.NoError(b, err)
				b.ReportMetric(r.RouterDecisionsPerS, "decisions/s")
				b.ReportMetric(r.HitRatePct, "hit%")
			}
		})
	}
}
