package sim

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Request is one serving request.
type Request struct {
	ID      int
	Arrival float64 // seconds from the start
	// Prompt holds the prompt's token ids. Equal prefixes (a system prompt, an
	// earlier turn, a shared Mooncake block) are equal token ids, so prefix caching
	// finds them.
	Prompt    []int32
	OutputLen int // tokens to generate (≥ 1)
	// N is the number of parallel samples (≥ 1); Beam > 0 means beam search of that
	// width (N is then ignored).
	N    int
	Beam int
}

// Width is the number of sequences the request decodes at once.
func (r *Request) Width() int {
	if r.Beam > 0 {
		return r.Beam
	}
	return max(1, r.N)
}

// OutputToken is the id of the i-th generated token of sequence seq of request id.
// It is deterministic, so a multi-turn workload can put the same tokens in the next
// turn's prompt and the simulator generates exactly them.
func OutputToken(id, seq, i int) int32 {
	x := uint64(id)*0x9E3779B97F4A7C15 ^ uint64(seq)*0xBF58476D1CE4E5B9 ^ uint64(i)*0x94D049BB133111EB
	x ^= x >> 31
	return int32(x % vocab)
}

const vocab = 50000

// LengthDist is a log-normal length distribution truncated to [Min, Max] (by
// rejection).
type LengthDist struct {
	Mu, Sigma float64
	Min, Max  int
}

func (d LengthDist) sample(src rand.Source, limit int) int {
	ln := distuv.LogNormal{Mu: d.Mu, Sigma: d.Sigma, Src: src}
	hi := min(d.Max, limit)
	for range 1000 {
		if v := int(math.Round(ln.Rand())); v >= d.Min && v <= hi {
			return v
		}
	}
	return max(d.Min, min(hi, int(math.Exp(d.Mu))))
}

// Profile is a dataset's length statistics.
type Profile struct {
	Name          string
	Input, Output LengthDist
	MaxTotal      int     // prompt + output cap (vLLM's ShareGPT filter: 2048)
	PaperMeanIn   float64 // published means, for reports
	PaperMeanOut  float64
}

// Profiles are the built-in length profiles. Their parameters were fitted so the
// truncated means match the vLLM paper's dataset means (§6.1: ShareGPT 161.31 in /
// 337.99 out; Alpaca 19.31 / 58.45) under vLLM's benchmark filter (each part ≥ 4,
// prompt ≤ 1024, total ≤ 2048); the spread (σ) is chosen to give the long right tail
// of the paper's Fig. 11. TestProfileMeans checks the means.
var Profiles = map[string]Profile{
	"sharegpt": {Name: "ShareGPT-like",
		Input:    LengthDist{Mu: 4.64, Sigma: 1.1, Min: 4, Max: 1024},
		Output:   LengthDist{Mu: 5.45, Sigma: 1.05, Min: 4, Max: 2044},
		MaxTotal: 2048, PaperMeanIn: 161.31, PaperMeanOut: 337.99},
	"alpaca": {Name: "Alpaca-like",
		Input:    LengthDist{Mu: 2.775, Sigma: 0.6, Min: 4, Max: 1024},
		Output:   LengthDist{Mu: 3.72, Sigma: 0.85, Min: 4, Max: 2044},
		MaxTotal: 2048, PaperMeanIn: 19.31, PaperMeanOut: 58.45},
}

// Synthetic describes a generated workload. The same value and Seed always give the
// same requests.
type Synthetic struct {
	Profile Profile
	// Rate is the Poisson arrival rate in requests/s; 0 means every request arrives
	// at time 0.
	Rate float64
	// Requests is the number of requests (sessions × turns for multi-turn).
	Requests int
	Seed     uint64
	// N parallel samples or beam width Beam (> 0) for every request.
	N, Beam int
	// SystemPrompt tokens shared by a SystemFraction of requests (at prompt start).
	SystemPrompt   int
	SystemFraction float64
	// Turns > 1 makes multi-turn sessions: turn t's prompt is turn t-1's prompt,
	// its generated output, and a new user message; it arrives ThinkTime seconds
	// (exponential mean) after the previous turn's arrival.
	Turns     int
	ThinkTime float64
}

// Generate returns the requests sorted by arrival.
func (s Synthetic) Generate() ([]Request, error) {
	if s.Requests <= 0 || s.Rate < 0 || s.N < 0 || s.Beam < 0 || s.SystemFraction < 0 || s.SystemFraction > 1 {
		return nil, fmt.Errorf("%w: synthetic workload %+v", ErrInvalid, s)
	}
	src := rand.NewPCG(s.Seed, 0x5EED)
	r := rand.New(src)
	turns := max(1, s.Turns)
	think := s.ThinkTime
	if think <= 0 {
		think = 30
	}
	system := make([]int32, s.SystemPrompt)
	for i := range system {
		system[i] = int32(r.IntN(vocab))
	}
	var reqs []Request
	t := 0.0
	for len(reqs) < s.Requests {
		if s.Rate > 0 {
			t += r.ExpFloat64() / s.Rate
		}
		var prev *Request
		at := t
		for turn := 0; turn < turns && len(reqs) < s.Requests; turn++ {
			in := s.Profile.Input.sample(src, s.Profile.MaxTotal-s.Profile.Output.Min)
			var prompt []int32
			if prev != nil {
				prompt = append(prompt, prev.Prompt...)
				for i := range prev.OutputLen {
					prompt = append(prompt, OutputToken(prev.ID, 0, i))
				}
				at += r.ExpFloat64() * think
			} else if s.SystemPrompt > 0 && r.Float64() < s.SystemFraction {
				prompt = append(prompt, system...)
			}
			for range in {
				prompt = append(prompt, int32(r.IntN(vocab)))
			}
			out := s.Profile.Output.sample(src, max(1, s.Profile.MaxTotal-len(prompt)))
			reqs = append(reqs, Request{ID: len(reqs), Arrival: at, Prompt: prompt, OutputLen: out, N: max(1, s.N), Beam: s.Beam})
			prev = &reqs[len(reqs)-1]
		}
	}
	sortByArrival(reqs)
	return reqs, nil
}
