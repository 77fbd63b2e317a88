package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pagedkv/pagedkv/workload"
)

// Result is one figure beside its limit or baseline. Ratio is Value / Baseline;
// Better says which direction is good for Value.
type Result struct {
	Name         string  `json:"name"`
	Unit         string  `json:"unit"`
	Value        float64 `json:"value"`
	Baseline     float64 `json:"baseline"`
	Ratio        float64 `json:"ratio"`
	BaselineName string  `json:"baseline_name"`
	Better       string  `json:"better"` // "lower" or "higher"
	Note         string  `json:"note,omitempty"`
	// Reps is the number of interleaved rounds behind an attention figure (0: one
	// measurement); Value and Baseline are then medians, Ratio is the median of the
	// per-round ratios and Spread that ratio's (max − min) / median.
	Reps   int     `json:"reps,omitempty"`
	Spread float64 `json:"spread,omitempty"`
}

// Options select what the suite runs.
type Options struct {
	// Short runs a reduced suite (under a minute): fewer trace prompts, no 16K
	// attention context, the reference prefill at 512 tokens scaled to 2,048.
	Short bool
	// Only, if set, runs only figures whose name starts with one of these prefixes.
	Only []string
	// Progress, if set, is told each figure's name before it runs.
	Progress func(name string)
	// Reps is the number of interleaved rounds of each attention figure (0: 5, or 3
	// with Short).
	Reps int
}

func (o Options) want(name string) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, p := range o.Only {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

type suite struct {
	opts Options
	out  []Result
}

func (s *suite) add(r Result) {
	if r.Baseline != 0 && r.Reps == 0 {
		r.Ratio = r.Value / r.Baseline
	}
	s.out = append(s.out, r)
}

func (s *suite) bench(name string, f func(*testing.B)) testing.BenchmarkResult {
	if s.opts.Progress != nil {
		s.opts.Progress(name)
	}
	return testing.Benchmark(f)
}

func nsPer(r testing.BenchmarkResult, per float64) float64 { return float64(r.NsPerOp()) / per }

func gbps(r testing.BenchmarkResult) float64 {
	return float64(r.Bytes) * float64(r.N) / r.T.Seconds() / 1e9
}

// Run measures every figure and returns them in a stable order.
func Run(opts Options) ([]Result, error) {
	s := &suite{opts: opts}
	for _, n := range []int{1, 64} {
		name := fmt.Sprintf("pool/alloc-release-%d", n)
		if !opts.want(name) {
			continue
		}
		v := s.bench(name, PoolAllocRelease(n))
		base := s.bench(name+" (baseline)", SimplePoolAllocRelease(n))
		s.add(Result{Name: name, Unit: "ns/block", Value: nsPer(v, float64(n)), Baseline: nsPer(base, float64(n)),
			BaselineName: "slice free list + map ref counts", Better: "lower"})
	}
	for _, n := range []int{256, 1024} {
		name := fmt.Sprintf("manager/decode-step-%d", n)
		if !opts.want(name) {
			continue
		}
		v := s.bench(name, ManagerDecodeStep(n))
		base := s.bench(name+" (baseline)", SimpleManagerDecodeStep(n))
		us := nsPer(v, 1000)
		s.add(Result{Name: name, Unit: "µs/step", Value: us, Baseline: nsPer(base, 1000),
			BaselineName: "maps + slice baseline manager", Better: "lower"})
		// 65,536 context tokens in all (32 GiB of Llama-2-7B KV, what fits beside the
		// weights on an A100-80GB), split over the batch.
		gpu := GPUDecodeStepSeconds(n, 65536/n) * 1e6
		s.add(Result{Name: name + "-vs-gpu", Unit: "µs/step", Value: us, Baseline: gpu,
			BaselineName: "GPU decode step, Llama-2-7B on A100-80GB, 64K context tokens (sim time model)", Better: "lower"})
	}
	if name := "manager/admission-mooncake"; opts.want(name) {
		if err := s.admission(name); err != nil {
			return s.out, err
		}
	}
	if name := "beam/width-4-step"; opts.want(name) {
		v := s.bench(name, BeamSearch4)
		base := s.bench(name+" (baseline)", SimpleBeamSearch4)
		s.add(Result{Name: name, Unit: "µs/step", Value: nsPer(v, 1000), Baseline: nsPer(base, 1000),
			BaselineName: "maps + slice baseline manager", Better: "lower"})
	}
	if err := s.attentionDecode(); err != nil {
		return s.out, err
	}
	if err := s.attentionPrefill(); err != nil {
		return s.out, err
	}
	return s.out, nil
}

func (s *suite) admission(name string) error {
	path := filepath.Join(workload.TracesDir(), "mooncake_conversation_trace.jsonl")
	if _, err := os.Stat(path); err != nil {
		s.add(Result{Name: name, Unit: "prompts/s", Note: "skipped: trace not found (set PAGEDKV_TRACES)"})
		return nil
	}
	reqs, err := workload.LoadTrace(path, workload.TraceOptions{Seed: 1})
	if err != nil {
		return err
	}
	n := len(reqs)
	if s.opts.Short {
		n = 2000
	}
	prompts := make([][]int32, n)
	for i := range prompts {
		prompts[i] = reqs[i].Prompt
	}
	// 200K blocks of 16 tokens: a 3.2M-token cache, Mooncake's per-node local cache.
	const blocks = 200_000
	v := s.bench(name, AdmissionReplay(prompts, blocks))
	base := s.bench(name+" (baseline)", SimpleAdmissionReplay(prompts, blocks))
	note := fmt.Sprintf("%d prompts, 3.2M-token cache", n)
	s.add(Result{Name: name, Unit: "prompts/s", Value: v.Extra["prompts/s"], Baseline: base.Extra["prompts/s"],
		BaselineName: "maps + slice baseline manager", Better: "higher", Note: note})
	s.add(Result{Name: name + "-hit-rate", Unit: "%", Value: 100 * v.Extra["hit-rate"], Baseline: 40,
		BaselineName: "trace's cache ratio, infinite cache (Mooncake FAST'25 Table 2)", Better: "higher", Note: note})
	return nil
}
