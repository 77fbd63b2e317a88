//go:build !race

// (The race detector makes sync.Pool drop items on purpose, so allocation counts
// are only meaningful without it.)

package cluster

import (
	"context"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// Route (precise, memory index) and Finish allocate nothing in steady state, nor do
// Match and Apply.
func TestHotPathsDoNotAllocate(t *testing.T) {
	const bs = 16
	ctx := context.Background()
	x := newMem(t, MemoryConfig{})
	prompt := seqTokens(2048, 1)
	hs := hashesOf(t, prompt, bs, prefix.Extras{})
	ids := benchEngineIDs(16)
	for i, id := range ids {
		mustApply(t, x, st(id, 0, gpu(hs[:16*(i+1)/2]...)), Applied)
	}
	r := newRouter(t, RouterConfig{Engines: ids, Index: x})
	route := func() {
		d, err := r.Route(ctx, prompt, RouteOptions{ExpectedOutputTokens: 100})
		require.NoError(t, err)
		require.NoError(t, r.Finish(d.Ticket, FinishOptions{}))
	}
	route()
	require.Zero(t, testing.AllocsPerRun(100, route))
	// After the engine set grows (the scratch grows once) and shrinks, still none.
	require.NoError(t, r.AddEngine("extra"))
	route()
	require.NoError(t, r.RemoveEngine(ids[3]))
	require.Zero(t, testing.AllocsPerRun(100, route))
	var dst []EngineMatch
	require.Zero(t, testing.AllocsPerRun(100, func() { dst, _ = x.Match(ctx, hs, dst[:0]) }))
	b := st("e", 0, gpu(hs[:64]...), rmGPU(hs[:64]...))
	seq := uint64(0)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		b.Seq = seq
		seq++
		if _, err := x.Apply(ctx, b); err != nil {
			panic(err)
		}
	}))
}
