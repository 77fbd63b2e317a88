package main

import "github.com/pagedkv/pagedkv/sim"

// paperRef holds the vLLM paper's figures for one policy (NaN-free: ok=false when the
// paper has none for this setting).
type paperRef struct {
	tokenPct, batch float64
	ok              bool
}

// paperSetting reports whether the flags describe the vLLM paper's experiment: its
// model and GPU, one hour of synthetic arrivals, the default engine limits and
// memory split, no sampling, beams, shared prompts, turns, swapping, host prefix
// cache or chunking.
// The policies, block sizes, seed and prefix caching (the sharegpt and alpaca
// workloads share no prefixes) may differ; outputs (-json, -out) do not matter.
func paperSetting(o *options) bool {
	return o.trace == "" && o.model == "opt-13b" && o.gpu == "a100-40" && o.tp == 1 && o.memUtil == defaultMemUtil &&
		o.kvBits == 16 && o.n == 1 && o.beam == 0 && o.systemPrompt == 0 && o.turns == 1 &&
		o.duration == defaultDuration && o.requests == 0 && (o.maxBatchTokens == 0 || o.maxBatchTokens == 2048) &&
		o.maxSeqs == defaultMaxSeqs && o.swapGiB == 0 && !o.chunked &&
		!anyHostGiB(o.host.gib)
}

// paperFigures returns the paper's numbers for the run's setting, if it is one the
// paper reports: Fig. 2 (token states) and Fig. 13a/b (mean batch).
func paperFigures(o *options) map[string]paperRef {
	if !paperSetting(o) {
		return nil
	}
	switch {
	case o.workload == "sharegpt" && o.rate == 2:
		return map[string]paperRef{
			"paged@16": {96.3, 30.42, true}, sim.PolicyOrcaMax: {20.4, 7.00, true},
			sim.PolicyOrcaPow2: {26.8, 9.81, true}, sim.PolicyOrcaOracle: {38.2, 13.62, true},
		}
	case o.workload == "alpaca" && o.rate == 30:
		return map[string]paperRef{
			"paged@16": {0, 132.44, true}, sim.PolicyOrcaMax: {0, 7.00, true},
			sim.PolicyOrcaPow2: {0, 43.24, true}, sim.PolicyOrcaOracle: {0, 72.75, true},
		}
	}
	return nil
}
