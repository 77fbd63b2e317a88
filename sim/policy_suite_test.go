package sim

import (
	"fmt"
	"testing"

	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// suiteWorkloads are small workloads that between them take every path of the
// engine: overload and preemption, parallel samples, beams, shared system prompts,
// multi-turn sessions, all-at-once arrivals, prompts and outputs beyond the model's
// context.
func suiteWorkloads(t *testing.T) map[string][]workload.Request {
	t.Helper()
	long := []workload.Request{
		{ID: 0, Prompt: seqTokens(0, 3000), OutputLen: 5},                 // rejected: prompt beyond the context
		{ID: 1, Arrival: 0.5, Prompt: seqTokens(1, 2000), OutputLen: 500}, // output truncated
		{ID: 2, Arrival: 1, Prompt: seqTokens(2, 10), OutputLen: 5, N: 2},
		{ID: 3, Arrival: 1, Prompt: seqTokens(2, 40), OutputLen: 30, Beam: 3},
	}
	return map[string][]workload.Request{
		"overload":       generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: float64(horizon(6, 50)), Requests: horizon(150, 100), Seed: 11}),
		"samples":        generate(t, workload.Synthetic{Profile: workload.Alpaca(), Rate: 8, Requests: horizon(80, 30), Seed: 12, N: 3}),
		"beams":          generate(t, workload.Synthetic{Profile: workload.Alpaca(), Rate: 8, Requests: horizon(60, 20), Seed: 13, Beam: 4}),
		"system+turns":   generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 1, Requests: horizon(90, 30), Seed: 14, Turns: 3, ThinkTime: 2, SystemPrompt: 300, SystemFraction: 0.5}),
		"all at once":    generate(t, workload.Synthetic{Profile: workload.Alpaca(), Requests: horizon(120, 40), Seed: 15}),
		"context limits": long,
	}
}

func seqTokens(seed, n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(seed*100000 + i)
	}
	return p
}

// suiteConfigs are the settings each policy runs under: the defaults, and for paged
// the variants its options select.
func suiteConfigs(policy string) map[string]Config {
	out := map[string]Config{"default": {Policy: policy}}
	if policy == PolicyPaged {
		out["swap"] = Config{Policy: policy, SwapSpaceGiB: 2}
		out["tiny swap"] = Config{Policy: policy, SwapSpaceGiB: 0.02}
		out["chunked"] = Config{Policy: policy, ChunkedPrefill: true, MaxBatchTokens: 256}
		out["block 128, no caching"] = Config{Policy: policy, BlockSize: 128, DisablePrefixCaching: true}
		out["8-bit, block 32, 24 seqs"] = Config{Policy: policy, MaxSeqs: 24, BlockSize: 32}
	}
	return out
}

// TestPolicySuite runs every policy over every suite workload and asserts what must
// hold for any of them, with every engine, policy and allocator invariant checked
// every few iterations and at the end; each policy's default run is repeated to
// check it is deterministic.
func TestPolicySuite(t *testing.T) {
	workloads := suiteWorkloads(t)
	for _, policy := range PolicyNames() {
		for cname, cfg := range suiteConfigs(policy) {
			for wname, reqs := range workloads {
				t.Run(fmt.Sprintf("%s/%s/%s", policy, cname, wname), func(t *testing.T) {
					cfg.checkEvery = horizon(4, 16)
					if cname == "8-bit, block 32, 24 seqs" {
						cfg.Hardware.KVBytesPerElem = 1
					}
					r, err := Run(cfg, workload.Slice(reqs))
					require.NoError(t, err)
					checkResult(t, cfg.withDefaults(), reqs, r)
					if wname == "overload" && (cname == "default" || cname == "swap") && policy == PolicyPaged {
						require.Positive(t, r.Preemptions, "the preemption paths are taken")
						if cfg.SwapSpaceGiB > 0 {
							require.Positive(t, r.SwapOuts)
						}
					}
					if cname != "default" {
						return
					}
					again, err := Run(cfg, workload.Slice(reqs))
					require.NoError(t, err)
					r.WallS, again.WallS = 0, 0
					require.Equal(t, r, again, "deterministic")
				})
			}
		}
	}
}

// checkResult asserts the properties every run has, whatever the policy.
func checkResult(t *testing.T, cfg Config, reqs []workload.Request, r *Result) {
	t.Helper()
	maxLen := cfg.Hardware.Model.MaxSeqLen
	tooLong, truncated := 0, 0
	for _, q := range reqs {
		if len(q.Prompt) >= maxLen {
			tooLong++
		} else if len(q.Prompt)+q.OutputLen > maxLen {
			truncated++
		}
	}
	require.Equal(t, cfg.Policy, r.Policy)
	require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected, "every request completes or is rejected")
	require.GreaterOrEqual(t, r.RequestsRejected, tooLong)
	require.Equal(t, truncated, r.RequestsTruncated)
	require.True(t, r.Ran())
	require.Positive(t, r.RequestsCompleted)
	for name, v := range map[string]float64{"token": r.TokenStatesPct, "reserved": r.ReservedPct,
		"internal": r.InternalFragPct, "external": r.ExternalFragPct} {
		require.GreaterOrEqual(t, v, 0.0, name)
		require.LessOrEqual(t, v, 100.0+1e-9, name)
	}
	require.InDelta(t, 100, shares(r), 1e-6, "the shares cover the capacity")
	require.Positive(t, r.MeanBatch)
	require.LessOrEqual(t, r.MeanBatch, float64(cfg.MaxSeqs))
	require.Positive(t, r.ThroughputReqS)
	require.Positive(t, r.ThroughputTokS)
	require.Positive(t, r.NormalizedLatencyS)
	require.GreaterOrEqual(t, r.MeanTTFTS, 0.0)
	require.Positive(t, r.SimulatedS)
	require.Positive(t, r.Iterations)
	require.LessOrEqual(t, r.SwapOuts, r.Preemptions)
	require.GreaterOrEqual(t, r.PrefixHitRate, 0.0)
	require.LessOrEqual(t, r.PrefixHitRate, 1.0)
	require.GreaterOrEqual(t, r.SharingSavingsPct, 0.0)
	require.Less(t, r.SharingSavingsPct, 100.0)
	require.Equal(t, cfg.Hardware.KVSlots(), r.KVSlots)
	if cfg.Policy == PolicyPaged {
		require.Equal(t, cfg.BlockSize, r.BlockSize)
		require.Equal(t, r.KVSlots/r.BlockSize, r.NumBlocks)
		require.LessOrEqual(t, r.PeakBlocksUsed, r.NumBlocks)
		if cfg.SwapSpaceGiB == 0 {
			require.Zero(t, r.SwapOuts)
		}
		if cfg.DisablePrefixCaching {
			require.Zero(t, r.PrefixHitRate)
		}
	} else {
		require.Zero(t, r.BlockSize)
		require.Zero(t, r.Preemptions, "contiguous policies reserve up front")
		require.Zero(t, r.PrefixHitRate)
		require.Zero(t, r.SharingSavingsPct)
	}
	if cfg.Policy == PolicyOrcaOracle {
		require.Zero(t, r.InternalFragPct, "the oracle never over-reserves")
	}
}
