package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
)

// RouterConfig configures a Router. Engines is required; Index is required for the
// precise policy and ReplicaBlocks for the approximate one. Zero fields mean the
// documented defaults.
type RouterConfig struct {
	// Engines are the engines to route to, in routing order (EngineIndex). The
	// set may change later (AddEngine, RemoveEngine).
	Engines []EngineID
	// Policy is the built-in policy. Default PolicyPrecise.
	Policy PolicyKind
	// Index is the cluster index (precise policy).
	Index Index
	// Hash is how request tokens are hashed; it must match the engines'.
	Hash HashConfig
	// Weights value hits by tier. Zero means DefaultTierWeights.
	Weights TierWeights
	// OverlapWeight weighs prefill blocks against decode blocks in the cost
	// (Dynamo's overlap_score_weight). Default 1.
	OverlapWeight float64
	// ReplicaBlocks is each engine's cache size in blocks (approximate policy).
	ReplicaBlocks int
	// Seed seeds the random policy. Default 0.
	Seed uint64
	// IndexTimeout bounds one prediction (an index query). Default 50ms.
	IndexTimeout time.Duration
	// RetryAfter is how long the router routes on load alone after a prediction
	// failed before it asks the index again. Default 1s.
	RetryAfter time.Duration
	// FirstChunk is the scorer's first query size in blocks (see ScorerConfig).
	FirstChunk int
	// Predictor and Selector replace the policy's own (custom policies). A
	// ReplicaPredictor or IndexPredictor given here must model exactly Engines, in
	// order, and belongs to this router: AddEngine and RemoveEngine change it.
	Predictor Predictor
	Selector  Selector
	// OnStatus, if set, is called (outside the router's locks) whenever the router
	// enters or leaves degraded mode.
	OnStatus func(RouterStatus)
}

// RouteOptions are per-request options.
type RouteOptions struct {
	// Extras are folded into block hashes as the engines fold them (LoRA adapter,
	// cache salt, multimodal items).
	Extras prefix.Extras
	// ExpectedOutputTokens estimates the output length (its blocks count as the
	// request's decode load), in [0, MaxRequestTokens − prompt length]. Default 0.
	ExpectedOutputTokens int
	// DryRun chooses an engine without recording the request (no load, no replica
	// update, zero Ticket).
	DryRun bool
}

// Decision is where a request goes and what it is expected to find there.
type Decision struct {
	Engine EngineID
	// EngineIndex is Engine's position in Engines() as it was when Route ran: the
	// engine set does not change while a Route is in progress, so it stays
	// Engine's position until the next AddEngine or RemoveEngine (with a fixed
	// engine set, for ever). Engine is the stable name.
	EngineIndex int
	// HitTokens are the expected cached prefix tokens on Engine (GPUHitTokens of
	// them on GPU); PromptTokens the prompt length.
	HitTokens, GPUHitTokens, PromptTokens int
	// Cost is the selector's cost for Engine (0 for selectors without one).
	Cost float64
	// Degraded is set when no prediction was available (index unreachable): the
	// decision was made on load alone.
	Degraded bool
	// Ticket is passed to Finish when the request ends (zero for a dry run).
	Ticket Ticket
}

// FinishOptions are passed with a finished request.
type FinishOptions struct {
	// Output are the generated tokens, cached by the engine like the prompt (used by
	// the approximate policy's replica). May be nil.
	Output []int32
}

// RouterStatus says how the router is routing.
type RouterStatus struct {
	Policy PolicyKind
	// Degraded: predictions are failing and requests are routed on load alone.
	Degraded bool
	// Reason is the last prediction error while degraded.
	Reason string
	// Since is when the current mode began.
	Since time.Time
	// Decisions counts routed requests, DegradedDecisions those routed on load
	// alone; HitTokens and PromptTokens sum the decisions' expected hits and prompts.
	Decisions, DegradedDecisions, HitTokens, PromptTokens uint64
}

// Router routes requests to engines. All methods are safe for concurrent use. Its
// engine set may change while it routes (AddEngine, RemoveEngine).
type Router struct {
	cfg     RouterConfig
	bs      int
	pred    Predictor
	members engineSet // the predictor's per-engine state (built-in predictors), or nil
	track   Tracker
	sel     Selector
	local   bool // the predictor never blocks: no timeout context (it allocates)
	pool    sync.Pool

	// memb orders membership changes against routing: Route (and Finish with a
	// Tracker) hold it for reading for their whole call, AddEngine and
	// RemoveEngine for writing (and mu inside it while they change load).
	// So the engine set, the positions and the predictor's per-engine state stay
	// still while a request is predicted, selected, recorded or finished.
	memb    sync.RWMutex
	engines []EngineID // guarded by memb: the present engines in routing order, unique, ≥ 1
	order   []int      // guarded by memb: order[i] is engines[i]'s member slot in load

	mu       sync.Mutex
	load     loads     // guarded by mu (its member table also by memb)
	degraded bool      // guarded by mu
	reason   string    // guarded by mu
	since    time.Time // guarded by mu
	until    time.Time // guarded by mu: no prediction before this while degraded

	decisions, degradedDecisions, hitTokens, promptTokens atomic.Uint64
}

type routeScratch struct {
	req   Request
	cands []Candidate
	buf   []byte
}

// NewRouter validates cfg and builds the policy.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if cfg.Policy == "" {
		cfg.Policy = PolicyPrecise
	}
	if cfg.OverlapWeight == 0 {
		cfg.OverlapWeight = 1
	}
	if cfg.IndexTimeout == 0 {
		cfg.IndexTimeout = 50 * time.Millisecond
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.Hash.BlockSize == 0 {
		cfg.Hash.BlockSize = 16
	}
	if err := checkRouterConfig(&cfg); err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, engines: append([]EngineID(nil), cfg.Engines...), bs: cfg.Hash.BlockSize,
		load: newLoads(cfg.Engines), since: time.Now()}
	for i := range r.engines {
		r.order = append(r.order, i)
	}
	if err := r.buildPolicy(); err != nil {
		return nil, err
	}
	if t, ok := r.pred.(Tracker); ok {
		r.track = t
	}
	if s, ok := r.pred.(engineSet); ok {
		if s.engineCount() != len(r.engines) {
			return nil, fmt.Errorf("%w: the predictor models %d engines, the router has %d",
				ErrInvalidConfig, s.engineCount(), len(r.engines))
		}
		if err := s.checkEngines(r.engines); err != nil {
			return nil, fmt.Errorf("%w: the predictor's engines: %w", ErrInvalidConfig, err)
		}
		r.members = s
	}
	r.local = isLocal(r.pred)
	r.pool.New = func() any { return new(routeScratch) }
	return r, nil
}

// Predictor returns the policy's predictor (nil for load, random, round-robin).
func (r *Router) Predictor() Predictor { return r.pred }

// MaxRequestTokens bounds a routed request's prompt plus expected output tokens
// (paged.MaxSeqLen), so an engine's load in blocks cannot overflow.
const MaxRequestTokens = paged.MaxSeqLen

// Route chooses an engine for a prompt and, unless opts.DryRun, records the request
// as started there (its load, and the replica's cache for the approximate policy);
// call Finish with the Ticket when it ends. It chooses among the engines present
// when it starts (a RemoveEngine that returned before is respected; one that runs
// meanwhile waits for it). An index failure never fails Route: the
// request is routed on load alone and Decision.Degraded is set. Errors:
// ErrInvalidArgument (empty prompt, prompt plus expected output beyond
// MaxRequestTokens, extras the prompt cannot carry — prefix.Extras.ValidatePrompt —
// or other bad options), or the caller's context error.
func (r *Router) Route(ctx context.Context, tokens []int32, opts RouteOptions) (Decision, error) {
	if len(tokens) == 0 || len(tokens) > MaxRequestTokens || opts.ExpectedOutputTokens < 0 ||
		opts.ExpectedOutputTokens > MaxRequestTokens-len(tokens) {
		return Decision{}, fmt.Errorf("%w: %d prompt tokens, %d expected output tokens (together at most %d)",
			ErrInvalidArgument, len(tokens), opts.ExpectedOutputTokens, MaxRequestTokens)
	}
	if err := opts.Extras.ValidatePrompt(len(tokens)); err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	r.memb.RLock()
	d, changed, err := r.route(ctx, tokens, opts)
	r.memb.RUnlock()
	if changed && r.cfg.OnStatus != nil {
		r.cfg.OnStatus(r.Status())
	}
	return d, err
}

// route is Route's work, under memb held for reading; changed says the degraded
// mode changed (OnStatus is called once memb is released).
func (r *Router) route(ctx context.Context, tokens []int32, opts RouteOptions) (Decision, bool, error) {
	sc := r.pool.Get().(*routeScratch)
	defer r.putScratch(sc)
	req := &sc.req
	*req = Request{Tokens: tokens, Extras: opts.Extras, PromptBlocks: float64(len(tokens)) / float64(r.bs),
		NewBlocks: (len(tokens) + opts.ExpectedOutputTokens + r.bs - 1) / r.bs}
	sc.buf = sc.buf[:0]
	for _, t := range tokens[:min(len(tokens), r.bs)] {
		sc.buf = binary.LittleEndian.AppendUint32(sc.buf, uint32(t))
	}
	req.TieBreak = xxhash.Sum64(sc.buf)

	n := len(r.engines)
	if cap(sc.cands) < n {
		sc.cands = make([]Candidate, n, n+n/2)
	}
	cands := sc.cands[:n]
	r.mu.Lock()
	for i, m := range r.order {
		cands[i] = Candidate{Engine: r.engines[i], ActiveRequests: r.load.requests[m], ActiveBlocks: r.load.blocks[m]}
	}
	wasDegraded, until := r.degraded, r.until
	r.mu.Unlock()
	// The clock is read only around degraded mode (healthy routes do not need it).
	var now time.Time
	skip := false
	if wasDegraded {
		now = time.Now()
		skip = now.Before(until)
	}

	degraded, changed := false, false
	if r.pred != nil {
		if skip {
			degraded = true
		} else if err := r.predict(ctx, req, cands); err != nil {
			if ctx.Err() != nil {
				return Decision{}, false, ctx.Err()
			}
			degraded = true
			for i := range cands {
				cands[i].HitBlocks, cands[i].GPUHitBlocks, cands[i].WeightedHit = 0, 0, 0
			}
			if now.IsZero() {
				now = time.Now()
			}
			changed = r.setDegraded(err, now)
		} else if wasDegraded {
			changed = r.setDegraded(nil, now)
		}
	}

	i := r.sel.Select(req, cands)
	if i < 0 || i >= len(cands) {
		panic(fmt.Sprintf("cluster: selector %T chose engine %d of %d", r.sel, i, len(cands)))
	}
	cd := &cands[i]
	d := Decision{Engine: cd.Engine, EngineIndex: i, HitTokens: cd.HitBlocks * r.bs, GPUHitTokens: cd.GPUHitBlocks * r.bs,
		PromptTokens: len(tokens), Cost: cd.Cost, Degraded: degraded}
	if !opts.DryRun {
		var handle uint64
		if r.track != nil && !degraded {
			handle = r.track.Started(i, req)
		}
		r.mu.Lock()
		d.Ticket = r.load.start(r.order[i], req.NewBlocks, handle)
		r.mu.Unlock()
	}
	r.decisions.Add(1)
	if degraded {
		r.degradedDecisions.Add(1)
	}
	r.hitTokens.Add(uint64(d.HitTokens))
	r.promptTokens.Add(uint64(d.PromptTokens))
	return d, changed, nil
}

func (r *Router) predict(ctx context.Context, req *Request, cands []Candidate) error {
	if r.local {
		return r.pred.Predict(ctx, req, cands)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.IndexTimeout)
	defer cancel()
	err := r.pred.Predict(ctx, req, cands)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: prediction took longer than %v: %w", ErrUnavailable, r.cfg.IndexTimeout, err)
	}
	return err
}

// setDegraded enters (err != nil) or leaves degraded mode and reports whether the
// mode changed.
func (r *Router) setDegraded(err error, now time.Time) bool {
	r.mu.Lock()
	changed := r.degraded != (err != nil)
	if err != nil {
		r.reason, r.until = err.Error(), now.Add(r.cfg.RetryAfter)
	}
	if changed {
		r.degraded, r.since = err != nil, now
		if err == nil {
			r.reason = ""
		}
	}
	r.mu.Unlock()
	return changed
}

func (r *Router) putScratch(sc *routeScratch) {
	sc.req = Request{}
	r.pool.Put(sc)
}

// Finish records that a started request ended: its load leaves the engine, and the
// approximate policy's replica caches its output and releases its blocks. A request
// whose engine was removed since it started finishes too (its load leaves the
// removed engine's hidden account; its replica is gone). Errors: ErrUnknownTicket
// for a ticket that is not outstanding (finished twice, or zero).
func (r *Router) Finish(t Ticket, opts FinishOptions) error {
	if r.track == nil { // only the load changes: mu is enough
		r.mu.Lock()
		_, _, err := r.load.finish(t)
		r.mu.Unlock()
		return err
	}
	r.memb.RLock() // the tracker's positions stay still until it is told
	r.mu.Lock()
	pos, handle, err := r.load.finish(t)
	r.mu.Unlock()
	if err == nil && handle != 0 && pos >= 0 {
		r.track.Finished(pos, handle, opts.Output)
	}
	r.memb.RUnlock()
	return err
}

// Status reports the routing mode and counters.
func (r *Router) Status() RouterStatus {
	r.mu.Lock()
	st := RouterStatus{Policy: r.cfg.Policy, Degraded: r.degraded, Reason: r.reason, Since: r.since}
	r.mu.Unlock()
	st.Decisions, st.DegradedDecisions = r.decisions.Load(), r.degradedDecisions.Load()
	st.HitTokens, st.PromptTokens = r.hitTokens.Load(), r.promptTokens.Load()
	return st
}
