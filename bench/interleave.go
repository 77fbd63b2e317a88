package bench

import (
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
)

// A measurement runs a benchmark once per call; its figure is read from the result.
type measurement struct {
	name string
	run  func() testing.BenchmarkResult
}

// rounds runs every measurement once per round, reps rounds, in the same order each
// round (A B C A B C …), so slow drifts of a shared machine and code-layout or
// cache accidents of one moment hit every figure alike. It returns results[i][round].
func (s *suite) rounds(ms []measurement, reps int) [][]testing.BenchmarkResult {
	vals := make([][]testing.BenchmarkResult, len(ms))
	for range reps {
		for i, m := range ms {
			if s.opts.Progress != nil {
				s.opts.Progress(m.name)
			}
			vals[i] = append(vals[i], m.run())
		}
	}
	return vals
}

// reps is the number of interleaved rounds of the attention figures.
func (o Options) reps() int {
	switch {
	case o.Reps > 0:
		return o.Reps
	case o.Short:
		return 3
	}
	return 5
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// spread is (max − min) / median: the relative range over the rounds.
func spread(x []float64) float64 {
	m := median(x)
	if m == 0 {
		return 0
	}
	return (slices.Max(x) - slices.Min(x)) / m
}

// perRound returns f(a[i], b[i]) for each round.
func perRound(a, b []float64, f func(a, b float64) float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = f(a[i], b[i])
	}
	return out
}

func div(a, b float64) float64 { return a / b }

// figure fills a Result from per-round values and baselines: Value and Baseline are
// medians, Ratio is the median of the per-round ratios, Spread that ratio's range.
func figure(r Result, vals, base []float64) Result {
	r.Value, r.Baseline, r.Reps = median(vals), median(base), len(vals)
	rat := perRound(vals, base, div)
	r.Ratio, r.Spread = median(rat), spread(rat)
	return r
}

// bench returns a measurement's run function for a benchmark.
func benchOf(f func(*testing.B)) func() testing.BenchmarkResult {
	return func() testing.BenchmarkResult { return testing.Benchmark(f) }
}

// values extracts one number per round.
func values(rs []testing.BenchmarkResult, f func(testing.BenchmarkResult) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func extra(metric string) func(testing.BenchmarkResult) float64 {
	return func(r testing.BenchmarkResult) float64 { return r.Extra[metric] }
}

// release returns the memory of dropped caches before the next large allocation.
func release() {
	runtime.GC()
	debug.FreeOSMemory()
}
