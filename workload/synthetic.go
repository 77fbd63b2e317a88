package workload

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
)

// MaxBufferedTokens bounds the prompt tokens a synthetic source holds at once:
// multi-turn sessions are generated whole, and their later turns wait until every
// earlier arrival has been yielded.
const MaxBufferedTokens = 1 << 26

// maxBuffered is MaxBufferedTokens; tests lower it.
var maxBuffered = MaxBufferedTokens

// Synthetic describes a generated workload. The same value always gives the same
// requests. The zero value of every field but Requests means its documented default.
type Synthetic struct {
	// Profile gives the length distributions. Default (zero): ShareGPT().
	Profile Profile
	// Rate is the Poisson arrival rate in requests/s (finite, ≥ 0); 0, the default,
	// means every request (every session's first turn) arrives at time 0.
	Rate float64
	// Requests is the number of requests (sessions × turns for multi-turn), in
	// [1, MaxRequests]. Required.
	Requests int
	Seed     uint64
	// N parallel samples or beam width Beam (> 0) for every request, each at most
	// MaxWidth. Default one sample, no beam search.
	N, Beam int
	// SystemPrompt tokens (at most MaxTokens; default none) start the first prompt
	// of a SystemFraction of sessions, in [0, 1]; 0, the default, means all of them.
	// To give no session the system prompt, leave SystemPrompt 0.
	SystemPrompt   int
	SystemFraction float64
	// Turns > 1 makes multi-turn sessions (at most MaxTurns; default 1): turn t's
	// prompt is turn t-1's prompt, its generated output (OutputToken) and a new user
	// message; it arrives ThinkTime seconds (exponential mean; default 30) after the
	// previous turn's arrival.
	Turns     int
	ThinkTime float64
}

// Validate checks every field's range (see the field docs).
func (s Synthetic) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: synthetic workload: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case s.Requests < 1 || s.Requests > MaxRequests:
		return bad("Requests %d not in [1, %d]", s.Requests, MaxRequests)
	case !finite(s.Rate) || s.Rate < 0:
		return bad("Rate %v must be finite and ≥ 0", s.Rate)
	case s.Rate > 0 && float64(s.Requests)/s.Rate > MaxArrival:
		return bad("%d requests at %v/s arrive over %.3g s, beyond MaxArrival (%g s)", s.Requests, s.Rate,
			float64(s.Requests)/s.Rate, float64(MaxArrival))
	case s.N < 0 || s.N > MaxWidth || s.Beam < 0 || s.Beam > MaxWidth:
		return bad("N %d, Beam %d not in [0, %d]", s.N, s.Beam, MaxWidth)
	case s.SystemPrompt < 0 || s.SystemPrompt > MaxTokens:
		return bad("SystemPrompt %d not in [0, %d]", s.SystemPrompt, MaxTokens)
	case !(s.SystemFraction >= 0 && s.SystemFraction <= 1):
		return bad("SystemFraction %v not in [0, 1]", s.SystemFraction)
	case s.Turns < 0 || s.Turns > MaxTurns:
		return bad("Turns %d not in [0, %d]", s.Turns, MaxTurns)
	case !finite(s.ThinkTime) || s.ThinkTime < 0:
		return bad("ThinkTime %v must be finite and ≥ 0", s.ThinkTime)
	}
	if s.Profile != (Profile{}) {
		return s.Profile.Validate()
	}
	return nil
}

// Generate returns every request, sorted by arrival.
func (s Synthetic) Generate() ([]Request, error) { return Collect(s.Source()) }

// Source returns the workload as a Source: requests are generated as they are
// yielded, a session at a time, in arrival order (ties in generation order). A
// validation error is the source's first and only item.
func (s Synthetic) Source() Source {
	return func(yield func(Request, error) bool) {
		if err := s.Validate(); err != nil {
			yield(Request{}, err)
			return
		}
		g := newGenerator(s)
		var pending arrivalHeap
		buffered := 0
		more := g.made < s.Requests
		start := 0.0
		if more {
			start = g.nextStart()
		}
		for {
			// A session starting at start yields nothing earlier than start, so the
			// earliest pending request can go once it arrives no later than that.
			for more && (len(pending) == 0 || start < pending[0].Arrival) {
				if err := g.session(start, func(r Request) { heap.Push(&pending, r); buffered += len(r.Prompt) }); err != nil {
					yield(Request{}, err)
					return
				}
				if buffered > maxBuffered {
					yield(Request{}, fmt.Errorf("%w: synthetic workload: more than %d prompt tokens arrive before the first "+
						"request can be yielded (lower Requests or Turns, or raise Rate)", ErrInvalid, maxBuffered))
					return
				}
				if more = g.made < s.Requests; more {
					start = g.nextStart()
				}
			}
			if len(pending) == 0 {
				return
			}
			r := heap.Pop(&pending).(Request)
			buffered -= len(r.Prompt)
			if !yield(r, nil) {
				return
			}
		}
	}
}

// generator draws sessions in generation order; the order of its random draws is
// part of the workload's definition (the same Seed gives the same requests).
type generator struct {
	s      Synthetic
	p      Profile
	src    *rand.PCG
	r      *rand.Rand
	system []int32
	think  float64
	turns  int
	made   int     // requests generated so far (the next request's ID)
	t      float64 // the latest session's start
}

func newGenerator(s Synthetic) *generator {
	g := &generator{s: s, p: s.Profile, src: rand.NewPCG(s.Seed, 0x5EED), turns: max(1, s.Turns), think: s.ThinkTime}
	if g.p == (Profile{}) {
		g.p = ShareGPT()
	}
	if g.think <= 0 {
		g.think = 30
	}
	g.r = rand.New(g.src)
	g.system = make([]int32, s.SystemPrompt)
	for i := range g.system {
		g.system[i] = int32(g.r.IntN(Vocab))
	}
	return g
}

// nextStart draws the next session's start.
func (g *generator) nextStart() float64 {
	if g.s.Rate > 0 {
		g.t += g.r.ExpFloat64() / g.s.Rate
	}
	return g.t
}

// session generates one session's turns starting at start (fewer once Requests are
// made) and passes each to emit.
func (g *generator) session(start float64, emit func(Request)) error {
	frac := g.s.SystemFraction
	if frac == 0 {
		frac = 1
	}
	var prev Request
	at := start
	for turn := 0; turn < g.turns && g.made < g.s.Requests; turn++ {
		in := g.p.Input.sample(g.src, g.p.MaxTotal-g.p.Output.Min)
		var prompt []int32
		if turn > 0 {
			prompt = append(prompt, prev.Prompt...)
			for i := range prev.OutputLen {
				prompt = append(prompt, OutputToken(prev.ID, 0, i))
			}
			at += g.r.ExpFloat64() * g.think
		} else if g.s.SystemPrompt > 0 && g.r.Float64() < frac {
			prompt = append(prompt, g.system...)
		}
		for range in {
			prompt = append(prompt, int32(g.r.IntN(Vocab)))
		}
		if len(prompt) > MaxTokens {
			return fmt.Errorf("%w: synthetic workload: a prompt of %d tokens (turn %d) exceeds MaxTokens (%d)",
				ErrInvalid, len(prompt), turn+1, MaxTokens)
		}
		out := g.p.Output.sample(g.src, max(1, g.p.MaxTotal-len(prompt)))
		if at > MaxArrival {
			return fmt.Errorf("%w: synthetic workload: arrival %.3g s beyond MaxArrival (%g s)", ErrInvalid, at, float64(MaxArrival))
		}
		prev = Request{ID: g.made, Arrival: at, Prompt: prompt, OutputLen: out, N: max(1, g.s.N), Beam: g.s.Beam}
		g.made++
		emit(prev)
	}
	return nil
}

// arrivalHeap orders requests by (arrival, ID): the order a stable sort by arrival
// gives requests generated in ID order.
type arrivalHeap []Request

func (h arrivalHeap) Len() int { return len(h) }
func (h arrivalHeap) Less(i, j int) bool {
	return h[i].Arrival < h[j].Arrival || h[i].Arrival == h[j].Arrival && h[i].ID < h[j].ID
}
func (h arrivalHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *arrivalHeap) Push(x any)   { *h = append(*h, x.(Request)) }
func (h *arrivalHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = Request{}
	*h = old[:len(old)-1]
	return r
}
