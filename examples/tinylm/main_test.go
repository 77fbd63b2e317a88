package main

import (
	"testing"

	"github.com/pagedkv/pagedkv/attention"
	"github.com/stretchr/testify/require"
)

// The cached, paged, batched generation equals a recomputation without any cache:
// same greedy tokens and logits within float32 accumulation error, through prefix
// sharing, a fork with copy-on-write and a speculative rollback.
func TestGenerationEqualsRecomputation(t *testing.T) {
	rep, err := Demo(attention.Float32, 1)
	require.NoError(t, err)
	t.Log("\n" + rep.String())
	require.Equal(t, 16, rep.CachedTokens, "prompt B hits A's four full blocks")
	require.Positive(t, rep.CopyOnWrites, "the fork's first write copies the shared partial block")
	require.Equal(t, 2, rep.Accepted)
	require.Zero(t, rep.TokenMismatches)
	require.Less(t, rep.MaxLogitDiff, 1e-4)
	require.Equal(t, 3*(1+5+6+3)+3-1+1, rep.Checked)
	require.Equal(t, rep.NumBlocks, rep.FreeAtEnd)
}

// With 16-bit storage the logits stay close to the float32 recomputation.
func TestGenerationFloat16Storage(t *testing.T) {
	rep, err := Demo(attention.Float16, 1)
	require.NoError(t, err)
	require.Less(t, rep.MaxLogitDiff, 2e-2)
}

// Sharding the KV heads over 2 ranks (one KV head each) or 4 ranks (each KV head
// replicated on two) produces exactly the tokens and logits of one rank.
func TestTensorParallelEqualsSingleRank(t *testing.T) {
	for _, dt := range []attention.DType{attention.Float32, attention.BFloat16} {
		one, err := Demo(dt, 1)
		require.NoError(t, err)
		for _, tp := range []int{2, 4} {
			rep, err := Demo(dt, tp)
			require.NoError(t, err)
			require.Equal(t, one.Tokens, rep.Tokens, "%v tp %d", dt, tp)
			require.Equal(t, one.Logits, rep.Logits, "%v tp %d", dt, tp)
			require.Equal(t, rep.NumBlocks, rep.FreeAtEnd)
		}
	}
	_, err := Demo(attention.Float32, 3) // 2 KV heads do not shard over 3 ranks
	require.ErrorIs(t, err, attention.ErrInvalidConfig)
}

// A hybrid model — full attention alternating with a 6-token sliding window, two
// KV-cache groups — generates exactly what a recomputation without a cache does
// (each layer over its own window), through prefix sharing, a fork, speculative
// rollback and the window's blocks released as the sequences grow; it holds fewer
// blocks than the same scenario with every block kept.
func TestHybridGenerationEqualsRecomputation(t *testing.T) {
	rep := checkLocalGeneration(t, func() *Model { return NewHybridModel(7, 6) }, "window")
	// And a model without windows differs: the windows matter.
	plain := NewHybridModel(7, 6)
	plain.Windows = []int{0, 0, 0, 0}
	other, err := DemoModel(plain, attention.Float32, 1)
	require.NoError(t, err)
	require.NotEqual(t, other.Logits, rep.Logits)
}

// checkLocalGeneration serves the model mk makes (local attention layers: windows or
// chunks) and checks that generation equals recomputation with the local layers'
// blocks released; that keeping every block (vLLM's
// --disable-hybrid-kv-cache-manager) generates the same tokens, with logits equal
// within float32 accumulation error, and holds more KV bytes; and that bf16 and FP8
// caches free everything too. It returns the float32 report.
func checkLocalGeneration(t *testing.T, mk func() *Model, what string) *Report {
	t.Helper()
	rep, err := DemoModel(mk(), attention.Float32, 1)
	require.NoError(t, err)
	t.Log("\n" + rep.String())
	require.Equal(t, 16, rep.CachedTokens, "prompt B hits A's four full blocks in both groups")
	require.Positive(t, rep.CopyOnWrites)
	require.Zero(t, rep.TokenMismatches)
	require.Less(t, rep.MaxLogitDiff, 1e-4)
	require.Positive(t, rep.WindowReleases, "the %s layers' blocks released", what)
	require.Equal(t, rep.NumBlocks, rep.FreeAtEnd)

	m := mk()
	m.KeepWindowBlocks = true
	keep, err := DemoModel(m, attention.Float32, 1)
	require.NoError(t, err)
	require.Equal(t, rep.Tokens, keep.Tokens)
	require.Zero(t, keep.TokenMismatches)
	require.Zero(t, keep.WindowReleases)
	require.Greater(t, keep.PeakBytes, rep.PeakBytes)
	t.Logf("peak KV bytes: %d with %s release, %d keeping every block", rep.PeakBytes, what, keep.PeakBytes)
	for _, dt := range []attention.DType{attention.BFloat16, attention.FP8E4M3} {
		r, err := DemoModel(mk(), dt, 1)
		require.NoError(t, err)
		require.Equal(t, r.NumBlocks, r.FreeAtEnd)
	}
	return rep
}

// A chunked model — full attention alternating with chunked local attention over
// 8-token chunks (Llama 4's local layers), two KV-cache groups — generates exactly
// what a recomputation without a cache does (each chunked layer within its chunk),
// through prefix sharing, a fork, speculative rollback and the blocks of finished
// chunks released; it holds fewer KV bytes than with every block kept, and the
// chunks matter (full attention, or a sliding window of the same size, differs).
func TestChunkedGenerationEqualsRecomputation(t *testing.T) {
	rep := checkLocalGeneration(t, func() *Model { return NewChunkedModel(7, 8) }, "chunk")
	plain := NewChunkedModel(7, 8)
	plain.Chunks = []int{0, 0, 0, 0}
	other, err := DemoModel(plain, attention.Float32, 1)
	require.NoError(t, err)
	require.NotEqual(t, other.Logits, rep.Logits)
	win, err := DemoModel(NewHybridModel(7, 8), attention.Float32, 1)
	require.NoError(t, err)
	require.NotEqual(t, win.Logits, rep.Logits)
}
