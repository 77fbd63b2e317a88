package sim

import (
	"math"
	"slices"
	"time"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/paged"
)

// ClusterResult holds a fleet run's metrics; its JSON form is kvsim's cluster
// contract (README). Percentages are of prompt tokens over every prefix-cache query
// (a request's first reservation on an engine, recomputations after preemption
// included, as vLLM counts them); TTFT is from a request's arrival at the router to
// its first token; throughput is output tokens (all sequences) from the first
// arrival to the last completion.
type ClusterResult struct {
	Engines     int    `json:"engines"`
	Router      string `json:"router"`
	Selector    string `json:"selector"`
	CacheMode   string `json:"cache_mode"`
	Index       string `json:"index"` // "memory", "redis", another backend's type, or "" (none)
	BlockSize   int    `json:"block_size"`
	CacheTokens int    `json:"cache_tokens"`      // per engine, both tiers (see ClusterConfig.CacheTokens)
	HostTokens  int    `json:"host_cache_tokens"` // of them, the host tier's
	PrefillOnly bool   `json:"prefill_only"`

	RequestsCompleted int `json:"requests_completed"`
	RequestsRejected  int `json:"requests_rejected"`
	RequestsTooLong   int `json:"requests_too_long"` // of the rejected: prompts not shorter than the model's context

	// HitRatePct is the prompt tokens not computed: found in the engine's own cache
	// or (global cache) loaded from another's. RemoteHitPct is the loaded part.
	HitRatePct   float64 `json:"hit_rate_pct"`
	RemoteHitPct float64 `json:"remote_hit_pct"`
	// HostHitPct is the part found in the engines' host tiers (onloaded).
	HostHitPct float64 `json:"host_hit_pct"`
	// PrefillSavedPct is the prefill compute (FLOPs, causal attention included)
	// that the hits saved: 100 × (1 − needed / needed with no cache).
	PrefillSavedPct float64 `json:"prefill_saved_pct"`
	// The host tier's policy ("off" without one) and the blocks all engines copied
	// host → device (onloads) and device → host (offloads), as in CacheDetail.
	HostCachePolicy string `json:"host_cache_policy"`
	OnloadedBlocks  uint64 `json:"onloaded_blocks"`
	OffloadedBlocks uint64 `json:"offloaded_blocks"`

	TTFTMeanS      float64 `json:"ttft_mean_s"`
	TTFTP50S       float64 `json:"ttft_p50_s"`
	TTFTP90S       float64 `json:"ttft_p90_s"`
	TTFTP99S       float64 `json:"ttft_p99_s"`
	ThroughputTokS float64 `json:"throughput_tok_s"`
	ThroughputReqS float64 `json:"throughput_req_s"`
	// Imbalance is the busiest engine's time-averaged outstanding requests over the
	// engines' mean (1: perfectly even).
	Imbalance float64 `json:"imbalance"`
	// RouterDecisionsPerS is routing decisions per second of wall time spent
	// routing (hashing and index queries included; the global cache's lookup too).
	RouterDecisionsPerS float64 `json:"router_decisions_per_s"`
	// Transfers counts requests that loaded a prefix from another engine (global
	// cache); TransferMeanS is their mean transfer time.
	Transfers int `json:"transfers"`
	// TransfersFailed counts the transfers whose source engine went down before
	// they ended (Outages): the request then arrived at once and computed what its
	// engine lacked.
	TransfersFailed int     `json:"transfers_failed"`
	TransferMeanS   float64 `json:"transfer_mean_s"`
	Preemptions     int     `json:"preemptions"`
	// IndexErrors counts failed index calls (the router then routed on load alone,
	// or the global cache found nothing, until the index answered again).
	IndexErrors int `json:"index_errors"`
	// Rerouted counts the requests taken from engines at their crashes
	// (ClusterConfig.Outages) and routed again; each re-routing is also counted in
	// the chosen engine's RequestsRouted.
	Rerouted   int     `json:"requests_rerouted"`
	SimulatedS float64 `json:"simulated_s"`
	WallS      float64 `json:"wall_s"`

	PerEngine []EngineResult `json:"per_engine"`
	Windows   []WindowResult `json:"windows,omitempty"`
	// TTFTs are the completed requests' TTFTs, sorted (charts).
	TTFTs []float64 `json:"-"`
}

// EngineResult is one engine's share of a fleet run.
type EngineResult struct {
	Engine            string  `json:"engine"`
	RequestsRouted    int     `json:"requests_routed"`
	RequestsCompleted int     `json:"requests_completed"`
	HitRatePct        float64 `json:"hit_rate_pct"`
	RemoteHitPct      float64 `json:"remote_hit_pct"`
	HostHitPct        float64 `json:"host_hit_pct"`
	PrefillSavedPct   float64 `json:"prefill_saved_pct"`
	TTFTMeanS         float64 `json:"ttft_mean_s"`
	TTFTP50S          float64 `json:"ttft_p50_s"`
	TTFTP90S          float64 `json:"ttft_p90_s"`
	TTFTP99S          float64 `json:"ttft_p99_s"`
	ThroughputTokS    float64 `json:"throughput_tok_s"`
	MeanOutstanding   float64 `json:"mean_outstanding"`
	PeakOutstanding   int     `json:"peak_outstanding"`
	MeanBatch         float64 `json:"mean_batch"`
	TokenStatesPct    float64 `json:"token_states_pct"`
	Preemptions       int     `json:"preemptions"`
	NumBlocks         int     `json:"num_blocks"`
	PeakBlocksUsed    int     `json:"peak_blocks_used"`
	// Rerouted counts the requests taken from the engine when it crashed;
	// DownS is the simulated time it spent down (ClusterConfig.Outages), up to the
	// run's last event for an engine that never came back.
	Rerouted int     `json:"requests_rerouted"`
	DownS    float64 `json:"down_s"`
	// LoadSeries is the outstanding requests over time (charts).
	LoadSeries []Point `json:"-"`
}

// WindowResult covers the requests that arrived in [Start, End) (End is 0 for the
// last window, which runs to the end). With DrainWindows, Start and End are the
// window as it ran (shifted); Start is its first request's arrival.
type WindowResult struct {
	Start          float64 `json:"start_s"`
	End            float64 `json:"end_s"`
	Requests       int     `json:"requests_completed"`
	TTFTMeanS      float64 `json:"ttft_mean_s"`
	TTFTP90S       float64 `json:"ttft_p90_s"`
	ThroughputTokS float64 `json:"throughput_tok_s"` // their output over [Start, their last completion]
}

// reqRecord is a completed request, as the fleet's metrics need it.
type reqRecord struct {
	arrival, ttft, finish float64 // arrival: shifted (DrainWindows)
	out, engine, window   int32
}

// percentile returns the nearest-rank p-quantile of sorted values (0 for none).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(len(sorted)-1, i))]
}

// ttftStats returns the mean, p50, p90 and p99 of the TTFTs, sorting them.
func ttftStats(ttfts []float64) (mean, p50, p90, p99 float64) {
	if len(ttfts) == 0 {
		return
	}
	slices.Sort(ttfts)
	sum := 0.0
	for _, v := range ttfts {
		sum += v
	}
	return sum / float64(len(ttfts)), percentile(ttfts, .5), percentile(ttfts, .9), percentile(ttfts, .99)
}

func pct(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * part / whole
}

func (f *fleet) result(start time.Time) *ClusterResult {
	cfg := f.cfg
	r := &ClusterResult{Engines: cfg.Engines, Router: cfg.Router, Selector: cfg.Selector, CacheMode: cfg.CacheMode, BlockSize: f.bs,
		CacheTokens: (cfg.engineBlocks() + cfg.hostCacheBlocks()) * f.bs, HostTokens: cfg.hostCacheBlocks() * f.bs, PrefillOnly: cfg.PrefillOnly, RequestsTooLong: f.tooLong,
		RequestsRejected: f.rejected, Transfers: f.transfers, IndexErrors: f.scoreErrors, Rerouted: f.rerouted,
		TransfersFailed: f.failedTransfers}
	switch f.idx.(type) {
	case nil:
	case *cluster.MemoryIndex:
		r.Index = "memory"
	case *cluster.RedisIndex:
		r.Index = "redis"
	default:
		r.Index = "custom"
	}
	r.IndexErrors += f.feedErrors
	r.IndexErrors += int(f.router.Status().DegradedDecisions)
	if f.transfers > 0 {
		r.TransferMeanS = f.transferS / float64(f.transfers)
	}
	if f.routeWall > 0 {
		r.RouterDecisionsPerS = float64(f.decisions) / f.routeWall.Seconds()
	}
	perEngine := make([][]float64, len(f.engines))
	outTok := make([]float64, len(f.engines))
	lastFinish := make([]float64, len(f.engines))
	all := make([]float64, 0, len(f.records))
	var out, end float64
	for _, rec := range f.records {
		perEngine[rec.engine] = append(perEngine[rec.engine], rec.ttft)
		all = append(all, rec.ttft)
		outTok[rec.engine] += float64(rec.out)
		lastFinish[rec.engine] = max(lastFinish[rec.engine], rec.finish)
		out += float64(rec.out)
		end = max(end, rec.finish)
	}
	var queried, hits, hostHits, fetched, flops, flopsNoCache float64
	var meanSum, meanMax float64
	for i, ce := range f.engines {
		m := &ce.e.m
		ce.advance(end)
		er := EngineResult{Engine: string(ce.id), RequestsRouted: ce.routed, RequestsCompleted: m.completed,
			HitRatePct: pct(float64(m.hitTokens+m.fetchedTokens), float64(m.queried)), RemoteHitPct: pct(float64(m.fetchedTokens), float64(m.queried)),
			HostHitPct:      pct(float64(m.hostHitTokens), float64(m.queried)),
			PrefillSavedPct: 100 - pct(m.prefillFLOPs, m.prefillFLOPsNoCache), PeakOutstanding: ce.peak, Preemptions: m.preemptions,
			NumBlocks: ce.pol.m.Config().NumBlocks, PeakBlocksUsed: m.peakBlocks, LoadSeries: ce.series,
			Rerouted: ce.rerouted, DownS: ce.downS}
		if ce.down {
			er.DownS += max(0, f.now-ce.downAt)
		}
		if m.queried == 0 {
			er.PrefillSavedPct = 0
		}
		er.TTFTMeanS, er.TTFTP50S, er.TTFTP90S, er.TTFTP99S = ttftStats(perEngine[i])
		if span := lastFinish[i] - f.first; span > 0 {
			er.ThroughputTokS = outTok[i] / span
		}
		if span := end - f.first; span > 0 {
			er.MeanOutstanding = ce.area / span
		}
		if m.wSum > 0 {
			er.MeanBatch = m.wBatch / m.wSum
			er.TokenStatesPct = 100 * m.wToken / m.wSum
		}
		r.PerEngine = append(r.PerEngine, er)
		r.RequestsCompleted += m.completed
		r.RequestsRejected += m.rejected
		r.Preemptions += m.preemptions
		r.SimulatedS = max(r.SimulatedS, ce.e.now)
		queried += float64(m.queried)
		hits += float64(m.hitTokens)
		hostHits += float64(m.hostHitTokens)
		fetched += float64(m.fetchedTokens)
		flops += m.prefillFLOPs
		flopsNoCache += m.prefillFLOPsNoCache
		st := ce.pol.m.Stats()
		r.OnloadedBlocks += st.Onloads
		r.OffloadedBlocks += st.Offloads
		meanSum += er.MeanOutstanding
		meanMax = max(meanMax, er.MeanOutstanding)
	}
	r.HitRatePct, r.RemoteHitPct, r.HostHitPct = pct(hits+fetched, queried), pct(fetched, queried), pct(hostHits, queried)
	r.HostCachePolicy = paged.HostCacheOff.String()
	if cfg.hostCacheBlocks() > 0 {
		r.HostCachePolicy = cfg.Engine.hostCachePolicyName()
	}
	if flopsNoCache > 0 {
		r.PrefillSavedPct = 100 - pct(flops, flopsNoCache)
	}
	if meanSum > 0 {
		r.Imbalance = meanMax / (meanSum / float64(len(f.engines)))
	}
	r.TTFTMeanS, r.TTFTP50S, r.TTFTP90S, r.TTFTP99S = ttftStats(all)
	r.TTFTs = all
	if span := end - f.first; span > 0 {
		r.ThroughputTokS = out / span
		r.ThroughputReqS = float64(len(f.records)) / span
	}
	r.Windows = f.windows()
	r.WallS = time.Since(start).Seconds()
	return r
}

// windows reports the completed requests by arrival window (ClusterConfig.Windows).
func (f *fleet) windows() []WindowResult {
	bounds := f.cfg.Windows
	if len(bounds) == 0 {
		return nil
	}
	ws := make([]WindowResult, len(bounds))
	ttfts := make([][]float64, len(bounds))
	outs, ends, starts := make([]float64, len(bounds)), make([]float64, len(bounds)), make([]float64, len(bounds))
	for i := range ws {
		ws[i].Start, ws[i].End = bounds[i], 0
		if i+1 < len(bounds) {
			ws[i].End = bounds[i+1]
		}
		starts[i] = math.Inf(1)
	}
	for _, rec := range f.records {
		i := rec.window
		if i < 0 {
			continue // before the first window
		}
		ttfts[i] = append(ttfts[i], rec.ttft)
		outs[i] += float64(rec.out)
		ends[i] = max(ends[i], rec.finish)
		starts[i] = min(starts[i], rec.arrival)
	}
	for i := range ws {
		w := &ws[i]
		w.Requests = len(ttfts[i])
		w.TTFTMeanS, _, w.TTFTP90S, _ = ttftStats(ttfts[i])
		if f.cfg.DrainWindows && w.Requests > 0 { // the window as it ran
			w.End = starts[i] + (w.End - w.Start)
			if i+1 == len(ws) {
				w.End = 0
			}
			w.Start = starts[i]
		}
		if span := ends[i] - w.Start; span > 0 && w.Requests > 0 {
			w.ThroughputTokS = outs[i] / span
		}
	}
	return ws
}
