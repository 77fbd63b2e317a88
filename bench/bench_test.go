package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pagedkv/pagedkv/attention"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

func BenchmarkPoolAllocRelease1(b *testing.B)         { PoolAllocRelease(1)(b) }
func BenchmarkPoolAllocRelease64(b *testing.B)        { PoolAllocRelease(64)(b) }
func BenchmarkBaselinePoolAllocRelease1(b *testing.B) { SimplePoolAllocRelease(1)(b) }
func BenchmarkManagerDecodeStep256(b *testing.B)      { ManagerDecodeStep(256)(b) }
func BenchmarkManagerDecodeStep1024(b *testing.B)     { ManagerDecodeStep(1024)(b) }
func BenchmarkBaselineDecodeStep256(b *testing.B)     { SimpleManagerDecodeStep(256)(b) }
func BenchmarkBeamSearch4(b *testing.B)               { BeamSearch4(b) }
func BenchmarkBaselineBeamSearch4(b *testing.B)       { SimpleBeamSearch4(b) }
func BenchmarkPrefill2048(b *testing.B)               { AttentionPrefill(2048)(b) }

func BenchmarkAdmissionMooncake(b *testing.B) {
	path := filepath.Join(workload.TracesDir(), "mooncake_conversation_trace.jsonl")
	if _, err := os.Stat(path); err != nil {
		b.Skip("trace not found; set PAGEDKV_TRACES")
	}
	reqs, err := workload.LoadTrace(path, workload.TraceOptions{Seed: 1})
	require.NoError(b, err)
	prompts := make([][]int32, 2000)
	for i := range prompts {
		prompts[i] = reqs[i].Prompt
	}
	AdmissionReplay(prompts, 200_000)(b)
}

func BenchmarkAttentionDecode4K(b *testing.B) {
	for _, dt := range []attention.DType{attention.Float32, attention.BFloat16, attention.FP8E4M3} {
		b.Run(dt.String(), func(b *testing.B) {
			c, tables, err := AttentionCache(dt, 32, 4096, 16)
			require.NoError(b, err)
			AttentionDecode(c, tables, 4096)(b)
		})
	}
}

// The baselines do the same work as the real code: same hits on the same prompts.
func TestBaselineManagerAgrees(t *testing.T) {
	m := newSimpleManager(64, 4)
	a, hits := m.add(tokens(0, 10))
	require.Zero(t, hits)
	_, hits = m.add(append(tokens(0, 8), 99, 98))
	require.Equal(t, 8, hits)
	require.Positive(t, m.decode(a, 5))
	f := m.fork(a)
	m.cow(f)
	m.free(f)
	m.free(a)
}

func TestSuiteRunsAndReportsRatios(t *testing.T) {
	res, err := Run(Options{Short: true, Only: []string{"pool/alloc-release-1", "beam/"}})
	require.NoError(t, err)
	require.Len(t, res, 2)
	for _, r := range res {
		require.Positive(t, r.Value, r.Name)
		require.Positive(t, r.Baseline, r.Name)
		require.InDelta(t, r.Value/r.Baseline, r.Ratio, 1e-12)
		require.Equal(t, "lower", r.Better)
	}
	require.Equal(t, "pool/alloc-release-1", res[0].Name)
	require.Equal(t, "beam/width-4-step", res[1].Name)
}

func TestGPUTimeModel(t *testing.T) {
	// Llama-2-7B weights (13.5 GB) over 2 TB/s × 0.8: about 8 ms at any small batch.
	require.InDelta(t, 0.0083, GPUDecodeStepSeconds(1, 100), 0.001)
	require.Greater(t, GPUDecodeStepSeconds(256, 4000), GPUDecodeStepSeconds(256, 100))
}
