package sim

import (
	"math"
	"time"

	"github.com/pagedkv/pagedkv/hardware"
)

// metrics accumulates a run's figures as the engine reports iterations and
// finished requests.
type metrics struct {
	winStart, winEnd float64 // the arrival window the memory shares average over
	firstArrival     float64 // throughput is measured from here to the last finish

	// time-weighted accumulators over the window
	wSum, wBatch, wToken, wRes, wInt, wExt float64
	shareW, shareLogical, sharePhysical    float64
	peakBlocks                             int
	series                                 []Point // running requests, at most one point per simulated second

	completed, rejected, tooLong, truncated, preemptions, swapOuts int
	latencySum, ttftSum, outTokens                                 float64
	lastFinish                                                     float64
	ttfts                                                          []float64 // of the completed requests, in completion order

	// Prefix-cache queries (one per first reservation of a request, recomputations
	// included, as vLLM counts them): prompt tokens asked for, tokens found locally,
	// tokens loaded from other engines (cluster mode, global cache), and the prefill
	// FLOPs the queries needed against what they would have needed with no cache.
	queried, hitTokens, hostHitTokens, fetchedTokens int64
	prefillFLOPs, prefillFLOPsNoCache                float64
}

// query records a request's prefix-cache query: hits of its promptLen tokens were
// cached locally (hostHits of them in the host tier) and r.fetchLeft are loaded
// from elsewhere.
func (m *metrics) query(e *engine, r *reqState, hits, hostHits int) {
	cached := hits + r.fetchLeft
	m.queried += int64(r.promptLen)
	m.hitTokens += int64(hits)
	m.hostHitTokens += int64(hostHits)
	m.fetchedTokens += int64(r.fetchLeft)
	m.prefillFLOPs += prefillFLOPs(&e.hw, r.promptLen-cached, cached)
	m.prefillFLOPsNoCache += prefillFLOPs(&e.hw, r.promptLen, 0)
}

// prefillFLOPs is the compute of a prefill of n new tokens after cached ones: 2 ×
// params per token for the linear layers plus 4 × hidden × layers per query–key
// pair of causal attention (each new token attends to the cached tokens and the new
// ones before it).
func prefillFLOPs(hw *hardware.Deployment, n, cached int) float64 {
	pairs := float64(n)*float64(cached) + float64(n)*float64(n+1)/2
	return 2*hw.Model.Params*float64(n) + 4*float64(hw.Model.Hidden*hw.Model.Layers)*pairs
}

func (m *metrics) init(span sourceSpan) {
	m.winStart, m.winEnd = span.window()
	m.firstArrival = span.first
}

// record samples memory for an iteration of dt seconds starting now.
func (e *engine) record(dt float64) {
	var s memSample
	e.pol.sample(e.running, &s)
	if e.cfg.checkEvery > 0 {
		if err := s.check(); err != nil {
			panic(err)
		}
		if v, ok := e.pol.(sampleVerifier); ok {
			if err := v.verifySample(e.running, &s); err != nil {
				panic(err)
			}
		}
	}
	e.m.record(e.now, dt, len(e.running), &s)
}

func (m *metrics) record(now, dt float64, running int, s *memSample) {
	m.peakBlocks = max(m.peakBlocks, s.usedBlocks)
	if s.logical > 0 {
		m.shareW += dt
		m.shareLogical += dt * float64(s.logical)
		m.sharePhysical += dt * float64(s.physical)
	}
	if n := len(m.series); n == 0 || now-m.series[n-1].T >= 1 {
		m.series = append(m.series, Point{T: now, V: float64(running)})
	}
	w := math.Min(now+dt, m.winEnd) - math.Max(now, m.winStart)
	if w <= 0 {
		return
	}
	c := float64(s.capacity)
	m.wSum += w
	m.wBatch += w * float64(running)
	m.wToken += w * float64(s.token) / c
	m.wRes += w * float64(s.reserved) / c
	m.wInt += w * float64(s.internal) / c
	m.wExt += w * float64(s.capacity-s.token-s.reserved-s.internal) / c
}

// finish records a completed request.
func (m *metrics) finish(r *reqState) {
	m.completed++
	m.lastFinish = r.finish
	m.latencySum += (r.finish - r.Arrival) / float64(r.OutputLen)
	m.ttftSum += r.firstToken - r.Arrival
	m.ttfts = append(m.ttfts, r.firstToken-r.Arrival)
	m.outTokens += float64(r.OutputLen * r.Width())
}

func (m *metrics) result(e *engine, start time.Time) *Result {
	r := &Result{Policy: e.cfg.Policy, BlockSize: e.pol.blockSize(), Preemptions: m.preemptions, SwapOuts: m.swapOuts,
		RequestsCompleted: m.completed, RequestsRejected: m.rejected, RequestsTooLong: m.tooLong, RequestsTruncated: m.truncated,
		PeakBlocksUsed: m.peakBlocks, KVSlots: e.hw.KVSlots(), Iterations: e.iter, BatchSeries: m.series}
	if e.iter > 0 {
		r.SimulatedS = e.now
	}
	if r.BlockSize > 0 {
		r.NumBlocks = r.KVSlots / r.BlockSize
	}
	if p, ok := e.pol.(*pagedPolicy); ok {
		r.NumBlocks = p.numBlocks() // with KV-cache groups a block holds fewer layers
	}
	if m.wSum > 0 {
		r.TokenStatesPct = 100 * m.wToken / m.wSum
		r.ReservedPct = 100 * m.wRes / m.wSum
		r.InternalFragPct = 100 * m.wInt / m.wSum
		r.ExternalFragPct = 100 * m.wExt / m.wSum
		r.MeanBatch = m.wBatch / m.wSum
	}
	if span := m.lastFinish - m.firstArrival; span > 0 {
		r.ThroughputReqS = float64(m.completed) / span
		r.ThroughputTokS = m.outTokens / span
	}
	if m.completed > 0 {
		r.NormalizedLatencyS = m.latencySum / float64(m.completed)
		r.MeanTTFTS = m.ttftSum / float64(m.completed)
	}
	if q, h := e.pol.prefixStats(); q > 0 {
		r.PrefixHitRate = float64(h) / float64(q)
	}
	if m.shareLogical > 0 {
		r.SharingSavingsPct = 100 * (1 - m.sharePhysical/m.shareLogical)
	}
	r.CacheDetail = m.cacheDetail(e)
	r.WallS = time.Since(start).Seconds()
	return r
}
