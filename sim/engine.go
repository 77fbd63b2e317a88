package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/pagedkv/pagedkv/blockpool"
)

// Policy names accepted by Config.Policy.
const (
	PolicyPaged      = "paged"
	PolicyOrcaMax    = "orca-max"
	PolicyOrcaPow2   = "orca-pow2"
	PolicyOrcaOracle = "orca-oracle"
	PolicyStatic     = "static"
)

// Policies lists every policy name.
var Policies = []string{PolicyPaged, PolicyOrcaMax, PolicyOrcaPow2, PolicyOrcaOracle, PolicyStatic}

// Config configures one simulation run. Start from DefaultConfig.
type Config struct {
	Hardware Hardware
	// Policy is one of Policies.
	Policy string
	// BlockSize (paged only). Default 16.
	BlockSize int
	// PrefixCaching (paged only). Default true.
	PrefixCaching bool
	// ReleasePolicy (paged only): the free-queue placement. Default unhashed-first.
	ReleasePolicy blockpool.ReleasePolicy
	// Watermark (paged only): fraction of blocks admission keeps free. Default 0.01.
	Watermark float64
	// MaxBatchTokens is the token budget of one iteration. Default max(2048, the
	// model's MaxSeqLen).
	MaxBatchTokens int
	// MaxSeqs caps running requests. Default 256.
	MaxSeqs int
	// ChunkedPrefill splits prompts across iterations to fit the token budget.
	ChunkedPrefill bool
	// SwapSpaceGiB (paged only) is host memory for swapped-out KV: preemption swaps
	// the victim out (PCIe copies at Hardware.HostBandwidth, added to the iteration)
	// and swaps it back in before new requests are admitted. 0 (the default) means
	// recompute; a victim that does not fit in the host tier is recomputed too.
	SwapSpaceGiB float64
	// Seed drives the simulator's own random choices (beam selection).
	Seed uint64
	// Progress, if set, is called now and then with the fraction of requests done.
	Progress func(done float64)
}

// DefaultConfig is the paged policy with block size 16 and prefix caching on
// DefaultHardware.
func DefaultConfig() Config {
	return Config{Hardware: DefaultHardware(), Policy: PolicyPaged, BlockSize: 16, PrefixCaching: true,
		Watermark: 0.01, MaxSeqs: 256}
}

// Point is one sample of a time series.
type Point struct {
	T float64 `json:"t"`
	V float64 `json:"v"`
}

// Result holds one run's metrics. Memory percentages are time-averaged shares of the
// KV capacity over the arrival window (first to last arrival) — the vLLM paper's
// Fig. 2 breakdown:
//   - token states: slots holding a computed token's KV;
//   - reserved: held slots the request will fill before it ends;
//   - internal fragmentation: held slots beyond the request's final length (paged:
//     the unused tail of each sequence's last block; Orca: the over-reservation);
//   - external fragmentation and other: the rest of the capacity — free space the
//     allocator cannot or does not use (buddy rounding and gaps; free blocks).
type Result struct {
	Policy             string  `json:"policy"`
	BlockSize          int     `json:"block_size"`
	TokenStatesPct     float64 `json:"token_states_pct"`
	ReservedPct        float64 `json:"reserved_pct"`
	InternalFragPct    float64 `json:"internal_frag_pct"`
	ExternalFragPct    float64 `json:"external_frag_pct"`
	MeanBatch          float64 `json:"mean_batch"`
	ThroughputReqS     float64 `json:"throughput_req_s"`
	ThroughputTokS     float64 `json:"throughput_tok_s"`
	NormalizedLatencyS float64 `json:"normalized_latency_s"`
	Preemptions        int     `json:"preemptions"`
	SwapOuts           int     `json:"swap_outs"`
	PrefixHitRate      float64 `json:"prefix_hit_rate"`
	RequestsCompleted  int     `json:"requests_completed"`
	// More fields.
	RequestsRejected  int     `json:"requests_rejected"`
	RequestsTruncated int     `json:"requests_truncated"`
	MeanTTFTS         float64 `json:"mean_ttft_s"`
	SharingSavingsPct float64 `json:"sharing_savings_pct"`
	PeakBlocksUsed    int     `json:"peak_blocks_used"`
	NumBlocks         int     `json:"num_blocks"`
	KVSlots           int     `json:"kv_slots"`
	Iterations        int     `json:"iterations"`
	SimulatedS        float64 `json:"simulated_s"`
	WallS             float64 `json:"wall_s"`
	BatchSeries       []Point `json:"-"`
}

func (c *Config) validate() error {
	if err := c.Hardware.Validate(); err != nil {
		return err
	}
	if c.BlockSize <= 0 {
		c.BlockSize = 16
	}
	if c.MaxBatchTokens <= 0 {
		c.MaxBatchTokens = max(2048, c.Hardware.Model.MaxSeqLen)
	}
	if c.MaxSeqs <= 0 {
		c.MaxSeqs = 256
	}
	if c.Watermark < 0 || c.Watermark >= 1 {
		return fmt.Errorf("%w: watermark %v", ErrInvalid, c.Watermark)
	}
	if c.SwapSpaceGiB < 0 || (c.SwapSpaceGiB > 0 && c.Hardware.HostBandwidth <= 0) {
		return fmt.Errorf("%w: swap space %v GiB at %v B/s", ErrInvalid, c.SwapSpaceGiB, c.Hardware.HostBandwidth)
	}
	return nil
}

// blockBytes is one KV block's size on one GPU.
func (c *Config) blockBytes() float64 {
	return float64(c.BlockSize) * c.Hardware.KVBytesPerTokenPerGPU()
}

func (c *Config) newPolicy() (policy, error) {
	slots := c.Hardware.KVSlots()
	maxLen := c.Hardware.Model.MaxSeqLen
	switch c.Policy {
	case PolicyPaged:
		host := int(c.SwapSpaceGiB * GiB / c.blockBytes())
		return newPagedPolicy(slots/c.BlockSize, host, c.BlockSize, c.PrefixCaching, c.Watermark, c.ReleasePolicy, c.Seed)
	case PolicyOrcaMax, PolicyStatic:
		return newContiguousPolicy(c.Policy, reserveMax, slots, maxLen), nil
	case PolicyOrcaPow2:
		return newContiguousPolicy(c.Policy, reservePow2, slots, maxLen), nil
	case PolicyOrcaOracle:
		return newContiguousPolicy(c.Policy, reserveOracle, slots, maxLen), nil
	}
	return nil, fmt.Errorf("%w: unknown policy %q (want one of %v)", ErrInvalid, c.Policy, Policies)
}

// Run simulates serving reqs (sorted by arrival) and returns the metrics.
func Run(cfg Config, reqs []Request) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%w: no requests", ErrInvalid)
	}
	pol, err := cfg.newPolicy()
	if err != nil {
		return nil, err
	}
	e := &engine{cfg: cfg, hw: cfg.Hardware, pol: pol, static: cfg.Policy == PolicyStatic,
		winStart: reqs[0].Arrival, winEnd: reqs[len(reqs)-1].Arrival}
	if sw, ok := pol.(swapper); ok && cfg.SwapSpaceGiB > 0 {
		e.swapper = sw
	}
	if e.winEnd <= e.winStart { // all at once: average over the whole run
		e.winEnd = math.Inf(1)
	}
	start := time.Now()
	e.run(reqs)
	return e.result(start), nil
}

type engine struct {
	cfg     Config
	hw      Hardware
	pol     policy
	static  bool
	now     float64
	iter    int
	waiting []*reqState // front = next to admit
	running []*reqState // admission order; the back is preempted first
	swapped []*reqState // swapped out, in preemption order; swapped in first
	// scheduled is this iteration's work, reused across iterations.
	scheduled []*reqState
	swapper   swapper // the policy's swapping, nil without a host tier
	moved     int     // blocks copied to or from the host this iteration

	winStart, winEnd float64
	// time-weighted accumulators over the window
	wSum, wBatch, wToken, wRes, wInt, wExt float64
	shareW, shareLogical, sharePhysical    float64
	peakBlocks                             int
	series                                 []Point

	completed, rejected, truncated, preemptions, swapOuts int
	latencySum, ttftSum, outTokens                        float64
	firstArrival, lastFinish                              float64
}

func (e *engine) run(reqs []Request) {
	states := make([]reqState, len(reqs))
	maxLen := e.hw.Model.MaxSeqLen
	next, total := 0, len(reqs)
	e.firstArrival = reqs[0].Arrival
	done := func() int { return e.completed + e.rejected }
	lastReport := -1
	for done() < total {
		for next < total && reqs[next].Arrival <= e.now {
			r := &states[next]
			*r = reqState{Request: &reqs[next], firstToken: -1}
			r.promptLen = len(r.Prompt)
			if r.promptLen >= maxLen {
				e.rejected++
			} else {
				if len(r.Prompt)+r.OutputLen > maxLen {
					e.truncated++
					cp := *r.Request
					cp.OutputLen = maxLen - len(r.Prompt)
					r.Request = &cp
				}
				r.final = len(r.Prompt) + r.OutputLen
				e.waiting = append(e.waiting, r)
			}
			next++
		}
		if len(e.running) == 0 && len(e.waiting) == 0 && len(e.swapped) == 0 {
			if next < total {
				e.now = reqs[next].Arrival
			}
			continue
		}
		if e.cfg.Progress != nil && done()*100/total != lastReport {
			lastReport = done() * 100 / total
			e.cfg.Progress(float64(done()) / float64(total))
		}
		e.step()
	}
}

// step runs one iteration: schedule, advance time, commit.
func (e *engine) step() {
	e.iter++
	e.moved = 0
	for len(e.swapped) > 0 { // swapped requests come back first, in order
		n := e.swapper.swapIn(e.swapped[0])
		if n < 0 {
			break
		}
		e.moved += n
		e.running = append(e.running, e.swapped[0])
		e.swapped = e.swapped[1:]
	}
	budget := e.cfg.MaxBatchTokens
	batchTokens, ctxTokens := 0, 0
	scheduled := e.scheduled[:0]
	defer func() { e.scheduled = scheduled[:0] }()
	preempted := false
	for i := 0; i < len(e.running); i++ {
		r := e.running[i]
		r.stepKind, r.stepTokens = stepNone, 0
		if r.prefilled < r.promptLen { // a chunked prefill in progress
			chunk := min(budget, r.promptLen-r.prefilled)
			if chunk == 0 {
				continue
			}
			n, ok, _ := e.pol.prefill(r, chunk)
			if !ok {
				if e.preemptFor(r) {
					i--
					preempted = true
					continue
				}
				preempted = true
				break
			}
			r.stepKind, r.stepTokens = stepPrefill, n
			budget -= n
			batchTokens += n
			ctxTokens += r.prefilled + n
			scheduled = append(scheduled, r)
			continue
		}
		for !e.pol.decode(r, e.iter) {
			preempted = true
			if !e.preemptFor(r) {
				r = nil
				break
			}
		}
		if r == nil { // r itself was preempted
			break
		}
		w := r.Width()
		r.stepKind, r.stepTokens = stepDecode, w
		budget -= w
		batchTokens += w
		ctxTokens += w * r.computed
		scheduled = append(scheduled, r)
	}
	if !preempted && len(e.swapped) == 0 && (!e.static || len(e.running) == 0) {
		for len(e.waiting) > 0 && len(e.running) < e.cfg.MaxSeqs {
			r := e.waiting[0]
			remaining := r.promptLen - r.prefilled
			chunk := remaining
			if e.cfg.ChunkedPrefill {
				chunk = min(remaining, budget)
				if chunk <= 0 {
					break
				}
			} else if remaining > budget && batchTokens > 0 && !e.static {
				break
			}
			n, ok, reject := e.pol.prefill(r, chunk)
			if reject {
				e.waiting = e.waiting[1:]
				e.rejected++
				continue
			}
			if !ok {
				break
			}
			e.waiting = e.waiting[1:]
			e.running = append(e.running, r)
			r.stepKind, r.stepTokens = stepPrefill, n
			budget -= n
			batchTokens += n
			ctxTokens += r.prefilled + n
			scheduled = append(scheduled, r)
		}
	}
	if len(scheduled) == 0 {
		if len(e.running) == 0 && len(e.swapped) > 0 {
			// Nothing runs and the head cannot come back (watermark): recompute it.
			r := e.swapped[0]
			e.swapped = e.swapped[1:]
			e.pol.release(r)
			e.requeue(r)
			return
		}
		if len(e.running) == 0 && len(e.waiting) > 0 { // cannot fit even alone
			e.pol.release(e.waiting[0])
			e.waiting = e.waiting[1:]
			e.rejected++
		}
		return
	}
	dt := e.hw.IterationTime(batchTokens, ctxTokens)
	if e.moved > 0 {
		dt += float64(e.moved) * (e.cfg.blockBytes()/e.hw.HostBandwidth + e.hw.HostCopyLatency)
	}
	e.record(dt)
	e.now += dt
	for _, r := range scheduled {
		if r.stepKind == stepNone {
			continue // preempted after being scheduled (cannot happen: victims come after)
		}
		e.pol.commit(r)
		switch r.stepKind {
		case stepPrefill:
			r.prefilled += r.stepTokens
			r.computed = r.prefilled
			if r.prefilled == r.promptLen {
				r.generated++
				if r.firstToken < 0 {
					r.firstToken = e.now
				}
			}
		case stepDecode:
			r.computed++
			r.generated++
		}
		r.stepKind = stepNone
		if r.generated >= r.OutputLen && r.prefilled == r.promptLen {
			e.finish(r)
		}
	}
}

// preemptFor frees the most recently admitted running request to make room for r:
// swapped to the host tier when there is one with room, else recomputed (it returns
// to the front of the waiting queue). It reports false when r itself was the victim.
func (e *engine) preemptFor(r *reqState) bool {
	victim := e.running[len(e.running)-1]
	e.running = e.running[:len(e.running)-1]
	e.preemptions++
	victim.preempted++
	victim.stepKind = stepNone
	if e.swapper != nil {
		if n := e.swapper.swapOut(victim); n >= 0 {
			e.moved += n
			e.swapOuts++
			e.swapped = append(e.swapped, victim)
			return victim != r
		}
	}
	e.pol.release(victim)
	e.requeue(victim)
	return victim != r
}

// requeue puts a preempted request, holding no memory, at the head of the waiting
// queue to be prefilled again with its output so far.
func (e *engine) requeue(victim *reqState) {
	if victim.Width() > 1 { // sample/beam groups restart from the prompt
		victim.generated = 0
	}
	victim.promptLen = len(victim.Prompt) + victim.generated
	victim.prefilled, victim.computed = 0, 0
	e.waiting = append([]*reqState{victim}, e.waiting...)
}

func (e *engine) finish(r *reqState) {
	e.pol.release(r)
	for i, x := range e.running {
		if x == r {
			e.running = append(e.running[:i], e.running[i+1:]...)
			break
		}
	}
	e.completed++
	r.finish = e.now
	e.lastFinish = e.now
	e.latencySum += (r.finish - r.Arrival) / float64(r.OutputLen)
	e.ttftSum += r.firstToken - r.Arrival
	e.outTokens += float64(r.OutputLen * r.Width())
}

func (e *engine) record(dt float64) {
	var s memSample
	e.pol.sample(e.running, &s)
	e.peakBlocks = max(e.peakBlocks, s.usedBlocks)
	if s.logical > 0 {
		e.shareW += dt
		e.shareLogical += dt * float64(s.logical)
		e.sharePhysical += dt * float64(s.physical)
	}
	if n := len(e.series); n == 0 || e.now-e.series[n-1].T >= 1 {
		e.series = append(e.series, Point{T: e.now, V: float64(len(e.running))})
	}
	w := math.Min(e.now+dt, e.winEnd) - math.Max(e.now, e.winStart)
	if w <= 0 {
		return
	}
	c := float64(s.capacity)
	e.wSum += w
	e.wBatch += w * float64(len(e.running))
	e.wToken += w * float64(s.token) / c
	e.wRes += w * float64(s.reserved) / c
	e.wInt += w * float64(s.internal) / c
	e.wExt += w * float64(s.capacity-s.token-s.reserved-s.internal) / c
}

func (e *engine) result(start time.Time) *Result {
	r := &Result{Policy: e.cfg.Policy, BlockSize: e.pol.blockSize(), Preemptions: e.preemptions, SwapOuts: e.swapOuts,
		RequestsCompleted: e.completed, RequestsRejected: e.rejected, RequestsTruncated: e.truncated,
		PeakBlocksUsed: e.peakBlocks, KVSlots: e.hw.KVSlots(), Iterations: e.iter, SimulatedS: e.now,
		BatchSeries: e.series}
	if r.BlockSize > 0 {
		r.NumBlocks = r.KVSlots / r.BlockSize
	}
	if e.wSum > 0 {
		r.TokenStatesPct = 100 * e.wToken / e.wSum
		r.ReservedPct = 100 * e.wRes / e.wSum
		r.InternalFragPct = 100 * e.wInt / e.wSum
		r.ExternalFragPct = 100 * e.wExt / e.wSum
		r.MeanBatch = e.wBatch / e.wSum
	}
	if span := e.lastFinish - e.firstArrival; span > 0 {
		r.ThroughputReqS = float64(e.completed) / span
		r.ThroughputTokS = e.outTokens / span
	}
	if e.completed > 0 {
		r.NormalizedLatencyS = e.latencySum / float64(e.completed)
		r.MeanTTFTS = e.ttftSum / float64(e.completed)
	}
	if q, h := e.pol.prefixStats(); q > 0 {
		r.PrefixHitRate = float64(h) / float64(q)
	}
	if e.shareLogical > 0 {
		r.SharingSavingsPct = 100 * (1 - e.sharePhysical/e.shareLogical)
	}
	r.WallS = time.Since(start).Seconds()
	return r
}
