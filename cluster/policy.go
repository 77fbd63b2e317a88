package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/pagedkv/pagedkv/prefix"
)

// PolicyKind names a built-in routing policy.
type PolicyKind string

// Built-in policies.
const (
	// PolicyPrecise: hits from the cluster index (engines' KV events), cost selector.
	PolicyPrecise PolicyKind = "precise"
	// PolicyApproximate: hits predicted from the router's own decisions by a
	// paged.Manager replica per engine (no events), cost selector.
	PolicyApproximate PolicyKind = "approximate"
	// PolicyLoad: least outstanding work (the cost selector with no hits).
	PolicyLoad PolicyKind = "load"
	// PolicyRandom: uniformly random (seeded, so runs repeat).
	PolicyRandom PolicyKind = "random"
	// PolicyRoundRobin: engines in turn.
	PolicyRoundRobin PolicyKind = "round-robin"
)

// Policies lists the built-in policies.
func Policies() []PolicyKind {
	return []PolicyKind{PolicyPrecise, PolicyApproximate, PolicyLoad, PolicyRandom, PolicyRoundRobin}
}

// ParsePolicy returns the policy named s (as written by PolicyKind's constants).
func ParsePolicy(s string) (PolicyKind, error) {
	for _, p := range Policies() {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: unknown policy %q (want one of %v)", ErrInvalidArgument, s, Policies())
}

// Request is what policies see of a request.
type Request struct {
	Tokens []int32
	Extras prefix.Extras
	// PromptBlocks is the prompt length in blocks, fractional (Dynamo's prefill
	// measure: tokens / block size).
	PromptBlocks float64
	// NewBlocks is the blocks the request will occupy on its engine: prompt plus
	// expected output, rounded up.
	NewBlocks int
	// TieBreak is a deterministic function of the request's first block of tokens;
	// selectors rotate tied engines by it, so equal requests that tie go to the same
	// engine and different ones spread.
	TieBreak uint64
}

// Candidate is one engine as a policy sees it for one request.
type Candidate struct {
	Engine EngineID
	// HitBlocks consecutive prompt blocks are (predicted) cached, GPUHitBlocks on GPU;
	// WeightedHit weighs them by tier.
	HitBlocks, GPUHitBlocks int
	WeightedHit             float64
	// ActiveRequests and ActiveBlocks are the engine's outstanding work: requests
	// routed to it and not yet finished, and the blocks they hold (prompt + expected
	// output each).
	ActiveRequests, ActiveBlocks int
	// Cost is set by cost-based selectors (lower is better).
	Cost float64
}

// Predictor fills the hit fields of every candidate for a request. An error makes the
// router route on load alone for a while (degraded) and report it. The candidates
// are the router's present engines in Engines() order; a custom predictor that keeps
// per-engine state under a Router whose engine set changes should key it by
// Candidate.Engine.
type Predictor interface {
	Predict(ctx context.Context, req *Request, cands []Candidate) error
}

// Tracker is implemented by predictors that model engines from routing decisions
// (the approximate policy): the router tells them where requests started and when
// they finished. engine is a position in the router's Engines() at the time of the
// call (the engine set does not change during it). A Router whose Predictor is a
// Tracker other than ReplicaPredictor cannot change its engine set (AddEngine,
// RemoveEngine).
type Tracker interface {
	// Started records that req began on engine. It returns a handle passed back to
	// Finished.
	Started(engine int, req *Request) uint64
	// Finished records that the request ended; output are its generated tokens
	// (may be nil), which the engine caches like the prompt. It is not called for
	// a request whose engine was removed since it started.
	Finished(engine int, handle uint64, output []int32)
}

// Selector picks the engine for a request (an index into cands, which is never
// empty). Implementations must be safe for concurrent use.
type Selector interface {
	Select(req *Request, cands []Candidate) int
}

// rotated reports whether engine i comes before engine j in the request's tie order.
func rotated(req *Request, i, j, n int) bool {
	r := int(req.TieBreak % uint64(n))
	return (i-r+n)%n < (j-r+n)%n
}

// CostSelector is the Dynamo-style cost: for each engine,
//
//	cost = OverlapWeight × prefill blocks + decode blocks
//	prefill blocks = PromptBlocks − WeightedHit (the blocks still to compute)
//	decode blocks  = ActiveBlocks + NewBlocks (what the engine will hold)
//
// and the lowest cost wins; ties go to fewer active requests, then to the request's
// tie order (Request.TieBreak). With no hits it is least-outstanding-work routing.
type CostSelector struct {
	// OverlapWeight weighs prefill against decode; 0 means 1 (Dynamo's default).
	OverlapWeight float64
}

// Select implements Selector.
func (c CostSelector) Select(req *Request, cands []Candidate) int {
	w := c.OverlapWeight
	if w == 0 {
		w = 1
	}
	best := -1
	for i := range cands {
		cd := &cands[i]
		cd.Cost = w*max(0, req.PromptBlocks-cd.WeightedHit) + float64(cd.ActiveBlocks+req.NewBlocks)
		if best < 0 {
			best = i
			continue
		}
		b := &cands[best]
		switch {
		case cd.Cost < b.Cost:
			best = i
		case cd.Cost > b.Cost:
		case cd.ActiveRequests < b.ActiveRequests:
			best = i
		case cd.ActiveRequests == b.ActiveRequests && rotated(req, i, best, len(cands)):
			best = i
		}
	}
	return best
}

// RandomSelector picks uniformly at random from a seeded generator.
type RandomSelector struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// NewRandomSelector returns a RandomSelector seeded with seed.
func NewRandomSelector(seed uint64) *RandomSelector {
	return &RandomSelector{rng: rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))}
}

// Select implements Selector.
func (r *RandomSelector) Select(_ *Request, cands []Candidate) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.IntN(len(cands))
}

// RoundRobinSelector picks engines in turn.
type RoundRobinSelector struct{ next atomic.Uint64 }

// Select implements Selector.
func (r *RoundRobinSelector) Select(_ *Request, cands []Candidate) int {
	return int((r.next.Add(1) - 1) % uint64(len(cands)))
}

// IndexPredictor predicts hits from the cluster index through a Scorer (the precise
// policy).
//
// Engines the index reports that are not among the predictor's engines are ignored:
// after a Router's RemoveEngine the index may still list the engine, and no hit is
// ever credited to it.
type IndexPredictor struct {
	scorer *Scorer
	// pos maps each engine to its candidate position. It is replaced, never
	// changed, when a Router adds or removes an engine (copy on write).
	pos  atomic.Pointer[map[EngineID]int]
	pool sync.Pool
}

// NewIndexPredictor returns a predictor for the given engines (in candidate order).
func NewIndexPredictor(s *Scorer, engines []EngineID) *IndexPredictor {
	p := &IndexPredictor{scorer: s}
	pos := make(map[EngineID]int, len(engines))
	for i, e := range engines {
		pos[e] = i
	}
	p.pos.Store(&pos)
	p.pool.New = func() any { return new([]PrefixScore) }
	return p
}

// Predict implements Predictor.
func (p *IndexPredictor) Predict(ctx context.Context, req *Request, cands []Candidate) error {
	buf := p.pool.Get().(*[]PrefixScore)
	defer p.pool.Put(buf)
	scores, err := p.scorer.Score(ctx, req.Tokens, req.Extras, (*buf)[:0])
	*buf = scores
	if err != nil {
		return err
	}
	pos := *p.pos.Load()
	for _, s := range scores {
		if i, ok := pos[s.Engine]; ok && i < len(cands) {
			cd := &cands[i]
			cd.HitBlocks, cd.GPUHitBlocks, cd.WeightedHit = s.Blocks, s.GPUBlocks, s.Score
		}
	}
	return nil
}

func (p *IndexPredictor) addEngine(e EngineID) error {
	old := *p.pos.Load()
	pos := make(map[EngineID]int, len(old)+1)
	for k, v := range old {
		pos[k] = v
	}
	pos[e] = len(old)
	p.pos.Store(&pos)
	return nil
}

func (p *IndexPredictor) removeEngine(i int) {
	old := *p.pos.Load()
	pos := make(map[EngineID]int, len(old))
	for k, v := range old {
		switch {
		case v < i:
			pos[k] = v
		case v > i:
			pos[k] = v - 1
		}
	}
	p.pos.Store(&pos)
}

func (p *IndexPredictor) engineCount() int { return len(*p.pos.Load()) }

func (p *IndexPredictor) checkEngines(engines []EngineID) error {
	pos := *p.pos.Load()
	for i, e := range engines {
		if j, ok := pos[e]; !ok || j != i {
			return fmt.Errorf("engine %s at position %d, index predictor says %d (known %v)", e, i, j, ok)
		}
	}
	return nil
}
