package sim

import (
	"math"
	"testing"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// tinyWindowed is a small model with half its layers on a 256-token window, on a
// KV budget of about 2 GiB (64 K tokens of every layer): ShareGPT at a high rate
// fills it.
func tinyWindowed() hardware.Deployment {
	d := hardware.Default()
	d.Model = hardware.Model{Name: "tiny-windowed", Layers: 8, Heads: 8, KVHeads: 8, HeadDim: 128, Hidden: 1024,
		Params: 1e9, MaxSeqLen: 4096, Window: 256, WindowLayers: 4}
	d.MemUtil = 0.1
	return d
}

// With window freeing the paged policy runs the model on two KV-cache groups from
// one pool whose blocks hold half the layers; every iteration's memory sample (in
// O(sequences)) equals the walk over every group's table, and every invariant holds,
// through prefix sharing, parallel sampling and beam search.
func TestWindowFreeingSampleMatchesTables(t *testing.T) {
	for _, w := range []struct{ n, beam int }{{1, 0}, {3, 0}, {0, 3}} {
		reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 40, Requests: horizon(150, 40), Seed: 9,
			N: w.n, Beam: w.beam, SystemPrompt: 300, SystemFraction: 0.5})
		cfg := DefaultConfig()
		cfg.Hardware = tinyWindowed()
		cfg.checkEvery = horizon(3, 9)
		r := run(t, cfg, reqs)
		require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected)
		require.Equal(t, cfg.Hardware.GroupedNumBlocks(16), r.NumBlocks)
		require.Equal(t, 2*cfg.Hardware.NumBlocks(16), r.NumBlocks, "a block holds half the layers")
		require.InDelta(t, 100, shares(r), 1e-6)
	}
}

// Window freeing keeps the windowed layers' KV to their windows: the same workload
// runs larger batches, preempts less and finishes sooner than with every block
// kept (DisableWindowFreeing, vLLM's --disable-hybrid-kv-cache-manager).
func TestWindowFreeingRaisesBatch(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 60, Requests: 600, Seed: 5}) // fills the memory: no shorter horizon under -race
	cfg := DefaultConfig()
	cfg.Hardware = tinyWindowed()
	on := run(t, cfg, reqs)
	cfg.DisableWindowFreeing = true
	off := run(t, cfg, reqs)
	t.Logf("window freeing: batch %.1f, %.0f tok/s, %d preemptions; every block kept: batch %.1f, %.0f tok/s, %d preemptions",
		on.MeanBatch, on.ThroughputTokS, on.Preemptions, off.MeanBatch, off.ThroughputTokS, off.Preemptions)
	require.Equal(t, len(reqs), on.RequestsCompleted)
	require.Equal(t, len(reqs), off.RequestsCompleted)
	require.Greater(t, on.MeanBatch, off.MeanBatch)
	require.Greater(t, on.ThroughputTokS, off.ThroughputTokS)
	require.Less(t, on.Preemptions, off.Preemptions)
	require.Equal(t, cfg.Hardware.NumBlocks(16), off.NumBlocks)
}

// Window freeing does not combine with swapping (the manager's KV-cache groups have
// no host tier): refused, unless freeing is off; models without a window ignore it.
func TestWindowFreeingConfig(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: workload.Alpaca(), Requests: 3, Seed: 1})
	cfg := DefaultConfig()
	cfg.Hardware = tinyWindowed()
	cfg.SwapSpaceGiB = 1
	_, err := Run(cfg, workload.Slice(reqs))
	require.ErrorIs(t, err, ErrInvalid)
	cfg.DisableWindowFreeing = true
	run(t, cfg, reqs)
	plain := DefaultConfig()
	plain.SwapSpaceGiB = 1
	run(t, plain, reqs)
	cfg = DefaultConfig()
	cfg.Policy = PolicyOrcaMax
	cfg.Hardware = tinyWindowed()
	cfg.SwapSpaceGiB = 1
	run(t, cfg, reqs) // the contiguous policies ignore windows and swap space
	for _, name := range []string{"gemma-2-9b", "mistral-7b-v0.1", "gpt-oss-20b"} {
		c := DefaultConfig()
		c.Hardware.Model, c.Hardware.GPU = model(t, name), gpu(t, "a100-80")
		r := run(t, c, reqs)
		require.Equal(t, c.Hardware.GroupedNumBlocks(16), r.NumBlocks, name)
	}
}

// GroupedEviction reaches the manager: with window freeing on a multi-turn
// workload that fills the cache, it changes which prefixes stay cached (so the
// hit rate) while every invariant holds.
func TestGroupedEvictionReachesManager(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 40, Requests: horizon(600, 300), Seed: 21, Turns: 4,
		SystemPrompt: 300, SystemFraction: 0.5})
	hits := map[bool]float64{}
	for _, on := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Hardware, cfg.GroupedEviction = tinyWindowed(), on
		cfg.checkEvery = horizon(5, 61)
		r := run(t, cfg, reqs)
		require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected)
		hits[on] = r.PrefixHitRate
		t.Logf("GroupedEviction %v: hit %.2f%%, batch %.1f", on, 100*r.PrefixHitRate, r.MeanBatch)
	}
	require.NotEqual(t, hits[false], hits[true], "the eviction order differs, and with it the hits")
}

// longContext is a long-prompt workload (prompts of 16K–128K tokens, around 40K,
// short answers): the shape Llama 4's chunked attention is for.
func longContext() workload.Profile {
	return workload.Profile{Name: "long-context",
		Input:    workload.LengthDist{Mu: math.Log(40000), Sigma: 0.5, Min: 16384, Max: 131072},
		Output:   workload.LengthDist{Mu: math.Log(200), Sigma: 0.5, Min: 16, Max: 1024},
		MaxTotal: 132096}
}

// Llama 4 Scout's chunked layers (36 of 48, chunks of 8,192 tokens) form
// paged.ChunkedLocal groups that release the blocks of finished chunks: on a
// long-context workload that fills 8 H100s' KV memory the batch grows and throughput rises
// against every block kept (DisableWindowFreeing).
func TestChunkFreeingRaisesBatch(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: longContext(), Rate: 4, Requests: horizon(200, 50), Seed: 7})
	cfg := DefaultConfig()
	cfg.Hardware.Model, cfg.Hardware.GPU, cfg.Hardware.TP = model(t, "llama-4-scout-17b-16e"), gpu(t, "h100-80"), 8
	cfg.Hardware.MemUtil = 0.45 // about 40 GiB of KV after the 218 GB of weights: the workload fills it
	cfg.MaxBatchTokens = 16384
	cfg.ChunkedPrefill = true
	groups, blocks := pagedGroups(&cfg)
	require.Len(t, groups, 4)
	require.Equal(t, paged.FullAttention, groups[0].Kind)
	for _, g := range groups[1:] {
		require.Equal(t, paged.ChunkedLocal, g.Kind)
		require.Equal(t, 8192, g.Window)
		require.Equal(t, groups[0].BytesPerToken, g.BytesPerToken)
	}
	require.InDelta(t, 4*cfg.Hardware.NumBlocks(16), blocks, 4, "a block holds a quarter of the layers")
	on := run(t, cfg, reqs)
	cfg.DisableWindowFreeing = true
	off := run(t, cfg, reqs)
	t.Logf("chunk freeing: batch %.1f, %.0f tok/s, %d preemptions; every block kept: batch %.1f, %.0f tok/s, %d preemptions",
		on.MeanBatch, on.ThroughputTokS, on.Preemptions, off.MeanBatch, off.ThroughputTokS, off.Preemptions)
	require.Equal(t, len(reqs), on.RequestsCompleted)
	require.Equal(t, len(reqs), off.RequestsCompleted)
	require.Equal(t, blocks, on.NumBlocks)
	require.Equal(t, cfg.Hardware.NumBlocks(16), off.NumBlocks)
	require.Greater(t, on.MeanBatch, off.MeanBatch)
	require.Greater(t, on.ThroughputTokS, off.ThroughputTokS)
}
