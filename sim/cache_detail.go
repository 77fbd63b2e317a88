package sim

import "github.com/pagedkv/pagedkv/paged"

// CacheDetail is a run's prefix cache by tier, what it saved, the device↔host
// copies of a host prefix-cache tier (Config.HostCacheGiB) and the TTFT
// distribution. Its JSON field names are the cluster mode's (ClusterResult) where
// both have a figure. Percentages are of the prompt tokens of every prefix-cache
// query (a request's first reservation, recomputations after preemption included,
// as vLLM counts them).
type CacheDetail struct {
	// HostCachePolicy is the host tier's policy (HostCachePolicyNames), or "off".
	HostCachePolicy string  `json:"host_cache_policy"`
	HostCacheGiB    float64 `json:"host_cache_gib"`
	AsyncOffload    bool    `json:"async_offload"`
	// HostTokens is the host tier in tokens; CacheTokens adds the device's KV
	// slots (the tiers are inclusive: an onloaded block keeps its host copy, so the
	// distinct blocks cached are between the larger tier and the sum). Both 0 for
	// policies without a prefix cache.
	HostTokens  int `json:"host_cache_tokens"`
	CacheTokens int `json:"cache_tokens"`
	// HitRatePct is the prompt tokens found cached, not computed: DeviceHitPct in
	// device blocks, HostHitPct onloaded from the host tier.
	HitRatePct   float64 `json:"hit_rate_pct"`
	DeviceHitPct float64 `json:"device_hit_pct"`
	HostHitPct   float64 `json:"host_hit_pct"`
	// PrefillSavedPct is the prefill compute (FLOPs, causal attention included)
	// the hits saved: 100 × (1 − needed / needed with no cache).
	PrefillSavedPct float64 `json:"prefill_saved_pct"`
	// OnloadedBlocks and OffloadedBlocks count the blocks copied host → device
	// (claimed host hits) and device → host (offloads, write-through copies);
	// HostEvictions the cached host blocks reused for others. HostCopyS is the time
	// those copies added to iterations (hardware.Deployment.HostCopyTime; swaps not
	// included; offloads not either with Config.AsyncOffload).
	OnloadedBlocks  uint64  `json:"onloaded_blocks"`
	OffloadedBlocks uint64  `json:"offloaded_blocks"`
	HostEvictions   uint64  `json:"host_evictions"`
	HostCopyS       float64 `json:"host_copy_s"`
	// Time to first token of the completed requests, from arrival: mean (equal to
	// Result.MeanTTFTS) and nearest-rank percentiles.
	TTFTMeanS float64 `json:"ttft_mean_s"`
	TTFTP50S  float64 `json:"ttft_p50_s"`
	TTFTP90S  float64 `json:"ttft_p90_s"`
	TTFTP99S  float64 `json:"ttft_p99_s"`
}

// cacheDetail builds the run's CacheDetail (it sorts m.ttfts).
func (m *metrics) cacheDetail(e *engine) *CacheDetail {
	d := &CacheDetail{HostCachePolicy: paged.HostCacheOff.String()}
	q := float64(m.queried)
	d.HitRatePct = pct(float64(m.hitTokens+m.fetchedTokens), q)
	d.DeviceHitPct = pct(float64(m.hitTokens-m.hostHitTokens), q)
	d.HostHitPct = pct(float64(m.hostHitTokens), q)
	if m.prefillFLOPsNoCache > 0 {
		d.PrefillSavedPct = 100 - pct(m.prefillFLOPs, m.prefillFLOPsNoCache)
	}
	d.TTFTMeanS, d.TTFTP50S, d.TTFTP90S, d.TTFTP99S = ttftStats(m.ttfts)
	p, ok := e.pol.(*pagedPolicy)
	if !ok {
		return d
	}
	cfg := p.m.Config()
	host := e.cfg.hostTierBlocks()
	if cfg.HostCache.Policy != paged.HostCacheOff {
		d.HostCachePolicy = e.cfg.hostCachePolicyName()
		d.HostCacheGiB = e.cfg.HostCacheGiB
		d.AsyncOffload = e.cfg.AsyncOffload
	}
	d.HostTokens = host * p.bs
	d.CacheTokens = (cfg.NumBlocks + host) * p.bs
	st := p.m.Stats()
	d.OnloadedBlocks, d.OffloadedBlocks, d.HostEvictions = st.Onloads, st.Offloads, st.HostEvictions
	d.HostCopyS = e.hw.HostCopyTime(p.charged, p.bs)
	return d
}
