package sim

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// horizon returns full, or short under the race detector (see raceOn).
func horizon(full, short int) int {
	if raceOn {
		return short
	}
	return full
}

// paperChecks reports whether the paper's figures are asserted: only over the full
// horizons, i.e. without the race detector (.ci/run runs them so).
func paperChecks(t *testing.T) bool {
	t.Helper()
	if raceOn {
		t.Log("race detector: short horizons; the paper's figures are asserted by the run without -race")
	}
	return !raceOn
}

func generate(t testing.TB, s workload.Synthetic) []workload.Request {
	t.Helper()
	reqs, err := s.Generate()
	require.NoError(t, err)
	return reqs
}

func run(t testing.TB, cfg Config, reqs []workload.Request) *Result {
	t.Helper()
	r, err := Run(cfg, workload.Slice(reqs))
	require.NoError(t, err)
	return r
}

func model(t testing.TB, name string) hardware.Model {
	t.Helper()
	m, err := hardware.LookupModel(name)
	require.NoError(t, err)
	return m
}

func gpu(t testing.TB, name string) hardware.GPU {
	t.Helper()
	g, err := hardware.LookupGPU(name)
	require.NoError(t, err)
	return g
}

// tracePath returns a shared trace's path, skipping the test when traces are absent.
func tracePath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(workload.TracesDir(), name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("trace %s not found (set PAGEDKV_TRACES to the public traces directory): %v", name, err)
	}
	return p
}

// shares returns the four memory shares' sum.
func shares(r *Result) float64 {
	return r.TokenStatesPct + r.ReservedPct + r.InternalFragPct + r.ExternalFragPct
}
