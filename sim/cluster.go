package sim

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"time"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/pagedkv/pagedkv/workload"
)

// RunCluster simulates a fleet serving the requests of src: cfg.Engines engines,
// each the single-engine simulator's engine driving its own paged.Manager with its
// own time model and continuous batching, behind a cluster.Router. It ranges over
// src twice, as Run does. The run is a discrete-event loop over three kinds of
// events in time order — a request arrives (it is routed at once), a prefix
// transfer ends (global cache: the request reaches its engine), an engine's
// iteration ends (its work is committed and it schedules the next one) — so the
// router sees every engine's cache as of the moment it routes. Errors wrap
// ErrInvalid, or are the source's own.
func RunCluster(cfg ClusterConfig, src workload.Source) (*ClusterResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	span, err := scan(src)
	if err != nil {
		return nil, err
	}
	f, err := newFleet(&cfg, span)
	if err != nil {
		return nil, err
	}
	defer f.close()
	start := time.Now()
	f.arr.open(src)
	defer f.arr.close()
	if err := f.run(); err != nil {
		return nil, err
	}
	return f.result(start), nil
}

// fleet is one cluster run.
type fleet struct {
	cfg     *ClusterConfig
	ctx     context.Context
	engines []*clusterEngine
	byID    map[cluster.EngineID]*clusterEngine // the router's decisions name engines (positions shift with outages)
	router  *cluster.Router
	scorer  *cluster.Scorer // global cache: every engine's prefix of a prompt
	idx     cluster.Index
	ownIdx  bool          // idx was made here (closed at the end)
	feed    *cluster.Feed // applies the engines' events to idx in this goroutine; nil without an index
	arr     arrivals
	pending deliveries // global cache: requests whose prefix is on its way
	dirty   []*clusterEngine

	bs          int
	maxLen      int     // the model's context: longer prompts are rejected unrouted
	bytesPerTok float64 // KV bytes of one token, whole model
	netBytes    float64 // network bytes/s per engine
	total       int     // requests in the source
	first       float64 // first arrival

	// Counters.
	done, rejected, tooLong int
	decisions               int
	routeWall               time.Duration
	scoreErrors, feedErrors int
	feedFailing             bool  // the last feed flush failed: updates wait in the feed
	lastFeedErr             error // the last feed error
	transfers               int
	transferS               float64
	failedTransfers         int // transfers whose source engine went down first (outages)
	// DrainWindows: arrivals from window win on are shifted by shift; taken counts
	// the requests taken from the source, lastDone is when the last one finished.
	shift, lastDone float64
	win, taken      int
	records         []reqRecord
	lastReport      int
	outBuf          []int32
	// Outages (cluster_outage.go): the membership events in the order they apply,
	// the next one, the requests re-routed, and the time of the last event.
	members      []memberEvent
	nextMember   int
	rerouted     int
	now          float64
	scores       []cluster.PrefixScore
	nextDelivery int
}

func newFleet(cfg *ClusterConfig, span sourceSpan) (*fleet, error) {
	ec := cfg.Engine
	f := &fleet{cfg: cfg, ctx: context.Background(), bs: ec.BlockSize, maxLen: ec.Hardware.Model.MaxSeqLen,
		bytesPerTok: ec.Hardware.Model.KVBytesPerToken(ec.Hardware.KVBytesPerElem), netBytes: cfg.NetGbps * 1e9 / 8,
		total: span.count, first: span.first, win: -1, byID: map[cluster.EngineID]*clusterEngine{}}
	blocks := cfg.engineBlocks()
	ids := make([]cluster.EngineID, cfg.Engines)
	for i := range cfg.Engines {
		ecfg := ec
		if cfg.CacheTokens > 0 {
			ecfg.numBlocks, ecfg.hostCacheBlocks = blocks, cfg.hostCacheBlocks()
		}
		ecfg.events = paged.EventOptions{Enabled: cfg.usesIndex(), QueueSize: cfg.eventQueue}
		def, _ := lookupPolicy(PolicyPaged)
		pol, err := def.make(&ecfg)
		if err != nil {
			return nil, err
		}
		e := &engine{cfg: ecfg, hw: ecfg.Hardware, pol: pol, total: span.count}
		if sw, ok := pol.(swapper); ok && ecfg.SwapSpaceGiB > 0 {
			e.swapper = sw
		}
		e.m.init(span)
		ce := &clusterEngine{idx: i, id: cluster.EngineID(fmt.Sprintf("e%d", i)), e: e, pol: pol.(*pagedPolicy), last: span.first}
		e.onDone = func(r *reqState, finished bool) { f.finish(ce, r, finished) }
		f.engines = append(f.engines, ce)
		f.byID[ce.id] = ce
		ids[i] = ce.id
	}
	hash := cluster.HashConfig{BlockSize: f.bs, Hasher: prefix.XXH3{}} // the managers' hashing (paged's default)
	if cfg.usesIndex() {
		f.idx = cfg.Index
		if f.idx == nil {
			x, err := cluster.NewMemoryIndex(cluster.MemoryConfig{MaxKeys: max(1<<20, cfg.Engines*(blocks+cfg.hostCacheBlocks()))})
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			f.idx, f.ownIdx = x, true
		}
		var err error
		if f.feed, err = cluster.NewFeed(cluster.FeedConfig{Index: f.idx, Manual: true}); err != nil {
			f.close()
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		for _, ce := range f.engines {
			if ce.src, err = cluster.NewManagerSource(ce.id, ce.pol.m); err != nil {
				f.close()
				return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			ce.events = true // the first poll announces the engine (empty) afresh
		}
		// The index may know these engines from an earlier run (a shared Redis):
		// the first announcement restarts them, and must reach the index.
		f.sync()
		if f.feedFailing {
			f.close()
			return nil, fmt.Errorf("%w: cluster index: %v", ErrInvalid, f.lastFeedErr)
		}
	}
	rc := cluster.RouterConfig{Engines: ids, Policy: cluster.PolicyKind(cfg.Router), Hash: hash,
		ReplicaBlocks: cfg.replicaBlocks(), Seed: ec.Seed}
	if rc.Policy == cluster.PolicyPrecise {
		rc.Index = f.idx
	}
	switch rc.Policy {
	case cluster.PolicyPrecise, cluster.PolicyApproximate, cluster.PolicyLoad:
		if cfg.Selector == SelectorLLMD {
			rc.Selector = newLLMDSelector(cfg.Router, f.kvUsage)
		}
	}
	var err error
	if f.router, err = cluster.NewRouter(rc); err != nil {
		f.close()
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	f.members = newMemberEvents(f, cfg.Outages)
	if cfg.CacheMode == CacheGlobal {
		if f.scorer, err = cluster.NewScorer(cluster.ScorerConfig{Index: f.idx, Hash: hash}); err != nil {
			f.close()
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return f, nil
}

// kvUsage is engine e's KV-cache usage: referenced blocks over all blocks.
func (f *fleet) kvUsage(e cluster.EngineID) float64 {
	st := f.byID[e].pol.m.Stats()
	return float64(st.UsedBlocks) / float64(st.NumBlocks)
}

func (f *fleet) close() {
	if f.feed != nil {
		_ = f.feed.Close()
	}
	if f.ownIdx {
		_ = f.idx.Close()
	}
}

// run is the event loop: at each event time t it commits the iterations ending at
// t, routes the requests arriving by t, delivers the transfers done by t, and lets
// every engine that may have work begin its next iteration at t.
func (f *fleet) run() error {
	check := f.cfg.Engine.checkEvery
	commits := 0
	for {
		if f.arr.err != nil {
			return f.arr.err
		}
		t, arrival := f.nextArrival()
		if len(f.pending) > 0 {
			t = min(t, f.pending[0].at)
		}
		for _, ce := range f.engines {
			if ce.busy && ce.end < t {
				t = ce.end
			}
		}
		if math.IsInf(t, 1) {
			break
		}
		t = min(t, f.nextMemberAt()) // (only while there is work left)
		f.now = t
		for _, ce := range f.engines {
			if ce.busy && ce.end <= t {
				ce.commit()
				f.dirty = append(f.dirty, ce)
				if commits++; check > 0 && commits%check == 0 {
					if err := f.checkInvariants(); err != nil {
						panic(err)
					}
				}
			}
		}
		f.applyMembers(t)
		for arrival <= t {
			req := f.arr.take()
			f.taken++
			req.Arrival += f.shift
			if err := f.route(req, f.window(req.Arrival-f.shift), t); err != nil {
				return err
			}
			_, arrival = f.nextArrival()
		}
		for len(f.pending) > 0 && f.pending[0].at <= t {
			f.deliver(heap.Pop(&f.pending).(delivery))
		}
		for _, ce := range f.dirty {
			ce.start(t)
		}
		f.dirty = f.dirty[:0]
		f.report()
	}
	if f.done != f.total {
		return fmt.Errorf("%w: the source yielded %d requests, then %d when ranged again (a Source must "+
			"yield the same requests every time; collect a one-shot source with workload.Collect)", ErrInvalid, f.total, f.done)
	}
	if check > 0 {
		return f.checkInvariants()
	}
	return nil
}

// sync brings the index up to date with every engine's events so far: each engine
// whose manager may have new events polls them into the feed, and the feed applies
// them (in this goroutine: cluster.FeedConfig.Manual). When the index fails, the
// updates wait in the feed (an overflowing engine is announced afresh later) and
// the next sync tries again.
func (f *fleet) sync() {
	if f.feed == nil {
		return
	}
	polled := false
	for _, ce := range f.engines {
		if !ce.events || ce.src == nil { // (nil: down)
			continue
		}
		n, err := ce.src.Poll(f.feed)
		if err != nil { // the source announces the engine afresh at its next poll
			f.feedErrors++
			f.lastFeedErr = err
			continue
		}
		ce.events = false
		polled = polled || n > 0
	}
	if !polled && !f.feedFailing {
		return
	}
	if err := f.feed.Flush(f.ctx); err != nil {
		f.feedErrors++
		f.feedFailing, f.lastFeedErr = true, err
		return
	}
	f.feedFailing = false
}

// finish is every engine's onDone: the request leaves the engine's load and the
// router's, and a completed one is recorded.
func (f *fleet) finish(ce *clusterEngine, r *reqState, finished bool) {
	t := ce.e.now
	ce.addLoad(-1, t)
	var out []int32
	if finished && f.cfg.Router == string(cluster.PolicyApproximate) {
		out = f.output(r)
	}
	if err := f.router.Finish(r.route.ticket, cluster.FinishOptions{Output: out}); err != nil {
		panic(fmt.Sprintf("sim: cluster: request %d: %v", r.ID, err))
	}
	f.done++
	f.lastDone = t
	if finished {
		f.records = append(f.records, reqRecord{arrival: r.Arrival, ttft: r.firstToken - r.Arrival, finish: r.finish,
			out: int32(r.OutputLen * r.Width()), engine: int32(ce.idx), window: r.route.window})
	}
}

// output returns r's generated tokens (first sequence), in a reused buffer.
func (f *fleet) output(r *reqState) []int32 {
	f.outBuf = f.outBuf[:0]
	for i := range r.OutputLen {
		f.outBuf = append(f.outBuf, workload.OutputToken(r.ID, 0, i))
	}
	return f.outBuf
}

func (f *fleet) report() {
	if f.cfg.Progress == nil {
		return
	}
	if pct := f.done * 100 / f.total; pct != f.lastReport {
		f.lastReport = pct
		f.cfg.Progress(float64(f.done) / float64(f.total))
	}
}
