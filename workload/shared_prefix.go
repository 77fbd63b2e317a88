package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Stage is one step of a load ladder: Rate requests/s for Duration seconds.
type Stage struct {
	Rate, Duration float64
}

// SharedPrefix is the shared-prefix synthetic workload of inference-perf (its
// shared_prefix data type), which llm-d's prefix-cache routing benchmarks use:
// Groups distinct system prompts of SystemPromptLen tokens, each followed by
// PromptsPerGroup distinct questions of QuestionLen tokens. The Groups ×
// PromptsPerGroup prompts are shuffled once, and each stage's requests cycle
// through them in that order from the first (a stage's request k sends prompt k mod
// Groups × PromptsPerGroup: inference-perf numbers a stage's requests from 0), so
// every prompt recurs once per full set. Each request generates exactly OutputLen
// tokens (ignore_eos). Arrivals follow the Stages one after the other, at constant
// intervals within a stage (inference-perf's "constant" load: ⌊Rate × Duration⌋
// requests at the stage's start + k / Rate), or Poisson (exponential gaps from the
// stage's start until its end).
//
// inference-perf starts a stage only once every request of the previous one has
// finished; a Source cannot know that, so its stages follow each other on the
// clock, and a simulator closes the loop (sim.ClusterConfig.DrainWindows with
// StageStarts as the windows).
//
// The zero value of every field means the 37-capacity benchmark's value (see
// LLMD37Capacity), so SharedPrefix{} is that workload. The same value always gives
// the same requests.
type SharedPrefix struct {
	// Groups of shared system prompts, PromptsPerGroup questions each; Groups ×
	// PromptsPerGroup at most MaxRequests. Defaults 83 and 3.
	Groups, PromptsPerGroup int
	// SystemPromptLen (default 8000) and QuestionLen (default 1000) are in [1,
	// MaxTokens]; all the distinct prompts together hold at most MaxBufferedTokens.
	SystemPromptLen, QuestionLen int
	// OutputLen is every request's output, in [1, MaxTokens]. Default 1000.
	OutputLen int
	// Stages is the load ladder (rates finite and positive, durations positive; at
	// most MaxRequests requests over at most MaxArrival seconds). Default
	// LLMD37Capacity's ladder.
	Stages []Stage
	// Poisson draws exponential inter-arrival times within each stage instead of
	// constant ones.
	Poisson bool
	Seed    uint64
}

// LLMD37Capacity is llm-d's "37-capacity" precise-prefix-cache benchmark workload
// (llm-d-kv-cache-manager, benchmarking/37-capacity): 83 groups of an 8,000-token
// shared prefix, 3 questions of 1,000 tokens each (a full set of 249 prompts),
// 1,000 output tokens, and a ladder of constant-rate stages — 10 req/s for 25 s of
// warm-up, then 3, 4, 5, 6, 8, 10, 12, 15 and 20 req/s for 210, 180, 120, 120, 90,
// 70, 60, 50 and 50 s (6,810 requests). It ran on 4 pods of Llama-3.1-70B, each
// with a KV capacity of 461,376 tokens.
func LLMD37Capacity() SharedPrefix {
	return SharedPrefix{Groups: 83, PromptsPerGroup: 3, SystemPromptLen: 8000, QuestionLen: 1000, OutputLen: 1000,
		Stages: []Stage{{10, 25}, {3, 210}, {4, 180}, {5, 120}, {6, 120}, {8, 90}, {10, 70}, {12, 60}, {15, 50}, {20, 50}}}
}

func (s SharedPrefix) withDefaults() SharedPrefix {
	d := LLMD37Capacity()
	for _, f := range []struct{ v, def *int }{
		{&s.Groups, &d.Groups}, {&s.PromptsPerGroup, &d.PromptsPerGroup}, {&s.SystemPromptLen, &d.SystemPromptLen},
		{&s.QuestionLen, &d.QuestionLen}, {&s.OutputLen, &d.OutputLen},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if len(s.Stages) == 0 {
		s.Stages = d.Stages
	}
	return s
}

// Validate checks every field's range (see the field docs), defaults applied.
func (s SharedPrefix) Validate() error {
	s = s.withDefaults()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: shared-prefix workload: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case s.Groups < 1 || s.Groups > MaxRequests || s.PromptsPerGroup < 1 || s.PromptsPerGroup > MaxRequests ||
		s.Groups*s.PromptsPerGroup > MaxRequests:
		return bad("%d groups × %d prompts: each at least 1 and at most %d prompts", s.Groups, s.PromptsPerGroup, MaxRequests)
	case s.SystemPromptLen < 1 || s.SystemPromptLen > MaxTokens || s.QuestionLen < 1 || s.QuestionLen > MaxTokens:
		return bad("SystemPromptLen %d, QuestionLen %d not in [1, %d]", s.SystemPromptLen, s.QuestionLen, MaxTokens)
	case s.SystemPromptLen+s.QuestionLen > MaxTokens:
		return bad("prompts of %d tokens exceed MaxTokens (%d)", s.SystemPromptLen+s.QuestionLen, MaxTokens)
	case s.OutputLen < 1 || s.OutputLen > MaxTokens:
		return bad("OutputLen %d not in [1, %d]", s.OutputLen, MaxTokens)
	case s.Groups*s.PromptsPerGroup*(s.SystemPromptLen+s.QuestionLen) > MaxBufferedTokens:
		return bad("the distinct prompts hold more than %d tokens", MaxBufferedTokens)
	}
	requests, end := 0.0, 0.0
	for i, st := range s.Stages {
		if !finite(st.Rate) || st.Rate <= 0 || !finite(st.Duration) || st.Duration <= 0 {
			return bad("stage %d: rate %v and duration %v must be finite and positive", i+1, st.Rate, st.Duration)
		}
		requests += math.Floor(st.Rate * st.Duration)
		end += st.Duration
		if requests > MaxRequests || end > MaxArrival {
			return bad("the stages make more than %d requests or last longer than %g s", MaxRequests, float64(MaxArrival))
		}
	}
	if requests < 1 {
		return bad("the stages make no request")
	}
	return nil
}

// StageStarts returns each stage's start time (seconds from 0), defaults applied:
// window boundaries for per-stage reports.
func (s SharedPrefix) StageStarts() []float64 {
	s = s.withDefaults()
	starts := make([]float64, len(s.Stages))
	t := 0.0
	for i, st := range s.Stages {
		starts[i] = t
		t += st.Duration
	}
	return starts
}

// Source returns the workload as a Source. A validation error is its first and only
// item. Requests that send the same prompt share its token slice (consumers must
// not modify prompts).
func (s SharedPrefix) Source() Source {
	return func(yield func(Request, error) bool) {
		if err := s.Validate(); err != nil {
			yield(Request{}, err)
			return
		}
		s := s.withDefaults()
		rng := rand.New(rand.NewPCG(s.Seed, 0x5A4ED))
		prompts := s.prompts(rng)
		id, start := 0, 0.0
		for _, st := range s.Stages {
			n := int(st.Rate * st.Duration)
			at := start
			for k := 0; ; k++ {
				if s.Poisson {
					if at += rng.ExpFloat64() / st.Rate; at >= start+st.Duration {
						break
					}
				} else if k == n {
					break
				} else {
					at = start + float64(k)/st.Rate
				}
				if id == MaxRequests {
					yield(Request{}, fmt.Errorf("%w: shared-prefix workload: more than %d Poisson arrivals", ErrInvalid, MaxRequests))
					return
				}
				r := Request{ID: id, Arrival: at, Prompt: prompts[k%len(prompts)], OutputLen: s.OutputLen, N: 1}
				if !yield(r, nil) {
					return
				}
				id++
			}
			start += st.Duration
		}
	}
}

// prompts draws the distinct prompts (group by group, then the questions) and
// shuffles them.
func (s SharedPrefix) prompts(rng *rand.Rand) [][]int32 {
	var prompts [][]int32
	for range s.Groups {
		system := make([]int32, s.SystemPromptLen)
		for i := range system {
			system[i] = int32(rng.IntN(Vocab))
		}
		for range s.PromptsPerGroup {
			p := make([]int32, s.SystemPromptLen, s.SystemPromptLen+s.QuestionLen)
			copy(p, system)
			for range s.QuestionLen {
				p = append(p, int32(rng.IntN(Vocab)))
			}
			prompts = append(prompts, p)
		}
	}
	rng.Shuffle(len(prompts), func(i, j int) { prompts[i], prompts[j] = prompts[j], prompts[i] })
	return prompts
}
