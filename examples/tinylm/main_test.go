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
