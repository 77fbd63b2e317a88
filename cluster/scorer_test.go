package cluster

import (
	"context"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// hashesOf returns the chain hashes of tokens' full blocks, as engines would report
// them with the default hashing.
func hashesOf(t testing.TB, tokens []int32, bs int, ex prefix.Extras) []uint64 {
	t.Helper()
	s, err := prefix.New(prefix.Config{BlockSize: bs})
	require.NoError(t, err)
	c := s.NewChain(ex)
	c.Extend(tokens)
	out := make([]uint64, c.Len())
	for i := range out {
		out[i] = uint64(c.Hash(i))
	}
	return out
}

func seqTokens(n int, base int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = base + int32(i)
	}
	return out
}

// countingIndex counts Match calls and hashes queried.
type countingIndex struct {
	Index
	calls, hashes atomic.Int64
}

func (c *countingIndex) Match(ctx context.Context, hs []uint64, dst []EngineMatch) ([]EngineMatch, error) {
	c.calls.Add(1)
	c.hashes.Add(int64(len(hs)))
	return c.Index.Match(ctx, hs, dst)
}

func sortScores(s []PrefixScore) []PrefixScore {
	sort.Slice(s, func(i, j int) bool { return s[i].Engine < s[j].Engine })
	return s
}

func TestScorerChunks(t *testing.T) {
	const bs = 4
	ctx := context.Background()
	mem := newMem(t, MemoryConfig{})
	idx := &countingIndex{Index: mem}
	prompt := seqTokens(300*bs+1, 1) // 300 full blocks can hit (the last token is extra)
	hs := hashesOf(t, prompt, bs, prefix.Extras{})
	mustApply(t, mem, st("full", 0, gpu(hs[:300]...)), Applied)
	mustApply(t, mem, st("four", 0, gpu(hs[:4]...)), Applied) // ends at the first chunk's end
	mustApply(t, mem, st("hole", 0, gpu(hs[:4]...), gpu(hs[5:40]...)), Applied)
	mustApply(t, mem, st("tiered", 0, cpu(hs[:50]...), gpu(hs[:10]...)), Applied)

	s, err := NewScorer(ScorerConfig{Index: idx, Hash: HashConfig{BlockSize: bs}, FirstChunk: 4})
	require.NoError(t, err)
	got, err := s.Score(ctx, prompt, prefix.Extras{}, nil)
	require.NoError(t, err)
	require.Equal(t, []PrefixScore{
		{Engine: "four", Blocks: 4, GPUBlocks: 4, Score: 4},
		{Engine: "full", Blocks: 300, GPUBlocks: 300, Score: 300},
		{Engine: "hole", Blocks: 4, GPUBlocks: 4, Score: 4},
		{Engine: "tiered", Blocks: 50, GPUBlocks: 10, Score: 10 + 40*0.8},
	}, sortScores(got))
	// chunks 4, 8, 16, ... up to 300 blocks: 4+8+16+32+64+128+48
	require.Equal(t, int64(7), idx.calls.Load())
	require.Equal(t, int64(300), idx.hashes.Load())

	// An unrelated prompt costs one short query.
	idx.calls.Store(0)
	idx.hashes.Store(0)
	got, err = s.Score(ctx, seqTokens(8192, 999999), prefix.Extras{}, got[:0])
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, int64(1), idx.calls.Load())
	require.Equal(t, int64(4), idx.hashes.Load())

	// Exactly a multiple of the block size: the last block cannot hit.
	got, err = s.Score(ctx, prompt[:8], prefix.Extras{}, nil)
	require.NoError(t, err)
	require.Equal(t, 1, got[0].Blocks)
	got, err = s.Score(ctx, prompt[:3], prefix.Extras{}, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestScorerExtras(t *testing.T) {
	const bs = 4
	mem := newMem(t, MemoryConfig{})
	prompt := seqTokens(9, 1)
	salted := prefix.Extras{CacheSalt: "tenant-a"}
	mustApply(t, mem, st("plain", 0, gpu(hashesOf(t, prompt, bs, prefix.Extras{})...)), Applied)
	mustApply(t, mem, st("salted", 0, gpu(hashesOf(t, prompt, bs, salted)...)), Applied)
	s, err := NewScorer(ScorerConfig{Index: mem, Hash: HashConfig{BlockSize: bs}})
	require.NoError(t, err)
	got, err := s.Score(context.Background(), prompt, salted, nil)
	require.NoError(t, err)
	require.Equal(t, []PrefixScore{{Engine: "salted", Blocks: 2, GPUBlocks: 2, Score: 2}}, got)
	_, err = s.Score(context.Background(), prompt, prefix.Extras{MM: []prefix.MMItem{{ID: "x", Offset: -1, Length: 1}}}, nil)
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestScorerConfig(t *testing.T) {
	mem := newMem(t, MemoryConfig{})
	for _, cfg := range []ScorerConfig{
		{},
		{Index: mem, Hash: HashConfig{BlockSize: -1}},
		{Index: mem, Weights: TierWeights{GPU: -1}},
		{Index: mem, FirstChunk: -1},
	} {
		_, err := NewScorer(cfg)
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", cfg)
	}
}
