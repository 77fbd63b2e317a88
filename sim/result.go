package sim

// Point is one sample of a time series.
type Point struct {
	T float64 `json:"t"`
	V float64 `json:"v"`
}

// Result holds one run's metrics; its JSON form is kvsim's contract (README).
// Memory percentages are time-averaged shares of the KV capacity over the arrival
// window (first to last arrival) — the vLLM paper's Fig. 2 breakdown — and add up to
// 100:
//   - token states: slots holding a computed token's KV;
//   - reserved: held slots the request will fill before it ends;
//   - internal fragmentation: held slots beyond the request's final length (paged:
//     the unused tail of each sequence's last block; Orca: the over-reservation);
//   - external fragmentation and other: the rest of the capacity — free space the
//     allocator cannot or does not use (buddy rounding and gaps; free blocks).
//
// When nothing ran (Iterations == 0: every request was rejected), the shares, batch,
// throughput, latency and SimulatedS are all zero.
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
	RequestsTooLong   int     `json:"requests_too_long"` // of the rejected: prompts not shorter than the model's context
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
	// CacheDetail (never nil in a Result of Run) adds the prefix cache by tier,
	// prefill compute saved, host-tier copies and TTFT percentiles; its fields are
	// promoted into the JSON object. kvsim prints them only with its host-cache
	// flags, so its default JSON keeps its earlier form.
	*CacheDetail
}

// Ran reports whether anything ran (some request was admitted).
func (r *Result) Ran() bool { return r.Iterations > 0 }
