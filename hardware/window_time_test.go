package hardware

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIterationTimeWindowed(t *testing.T) {
	d := Default()
	for _, c := range [][2]int{{1, 0}, {40, 10000}, {2048, 0}, {256, 500000}} {
		require.Equal(t, d.IterationTime(c[0], c[1]), d.IterationTimeWindowed(c[0], c[1], 0), "no window: the plain model")
	}
	d.Model, _ = LookupModel("gpt-oss-20b")
	d.GPU, _ = LookupGPU("h100-80")
	require.NoError(t, d.Validate())
	// Windows as long as the context cost what full attention does; a short window
	// costs less, down to the full layers' half when the window reads nothing.
	long, short := d.IterationTimeWindowed(256, 1<<20, 1<<20), d.IterationTimeWindowed(256, 1<<20, 256*128)
	require.InDelta(t, d.IterationTime(256, 1<<20), long, 1e-12)
	require.Less(t, short, long)
	require.Greater(t, short, d.IterationTimeWindowed(256, 1<<20, 0))
	require.Zero(t, d.IterationTimeWindowed(0, 5, 5))
	require.Equal(t, 0, WindowContext(0, 5, 100, true))
	require.Equal(t, 3*128, WindowContext(128, 3, 3000, true))
	require.Equal(t, 90, WindowContext(128, 3, 90, true))
	require.Equal(t, 10+127, WindowContext(128, 10, 5000, false))
	require.Equal(t, 50, WindowContext(128, 10, 50, false))
}

// Chunked local layers read only their chunk: Llama 4 Scout at a long context costs
// less than if every layer attended fully, and ChunkContext counts each query's
// chunk exactly.
func TestIterationTimeChunked(t *testing.T) {
	d := Default()
	d.Model, _ = LookupModel("llama-4-scout-17b-16e")
	d.GPU, _ = LookupGPU("h100-80")
	d.TP = 8
	require.NoError(t, d.Validate())
	ctx := 64 * 500000
	chunked := d.IterationTimeWindowed(64, ctx, ChunkContext(8192, 64, ctx, true))
	require.Less(t, chunked, d.IterationTime(64, ctx))
	require.InDelta(t, d.IterationTime(64, ctx), d.IterationTimeWindowed(64, ctx, ctx), 1e-12)

	require.Equal(t, 0, ChunkContext(0, 5, 100, true))
	require.Equal(t, 0, ChunkContext(8, 0, 100, true))
	require.Equal(t, 3*(100%8), ChunkContext(8, 3, 300, true)) // 100 cached each, 4 in the chunk of 100
	require.Equal(t, 0, ChunkContext(8, 1, 16, true))          // the new token opens a chunk
	require.Equal(t, 7, ChunkContext(8, 1, 15, true))
	// prefill of [10, 20) with chunks of 8: queries 10..15 read from 8, 16..19 from 16
	require.Equal(t, 20-8, ChunkContext(8, 10, 20, false))
	require.Equal(t, 20, ChunkContext(8, 20, 20, false))
	require.Equal(t, 4, ChunkContext(8, 4, 20, false)) // [16, 20): its own chunk only
}
