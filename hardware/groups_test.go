package hardware

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKVLayerGroups(t *testing.T) {
	for name, want := range map[string]struct {
		groups []LayerGroup
		size   int
	}{
		"gemma-2-9b":      {[]LayerGroup{{0, 21, 0}, {4096, 21, 0}}, 21},
		"gemma-2-27b":     {[]LayerGroup{{0, 23, 0}, {4096, 23, 0}}, 23},
		"gpt-oss-20b":     {[]LayerGroup{{0, 12, 0}, {128, 12, 0}}, 12},
		"mistral-7b-v0.1": {[]LayerGroup{{4096, 32, 0}}, 32},
		"llama-3-8b":      {[]LayerGroup{{0, 32, 0}}, 32},
		// 12 global and 36 chunked layers: four groups of 12, three of them chunked.
		"llama-4-scout-17b-16e": {[]LayerGroup{{Layers: 12}, {Chunk: 8192, Layers: 12}, {Chunk: 8192, Layers: 12}, {Chunk: 8192, Layers: 12}}, 12},
	} {
		m, err := LookupModel(name)
		require.NoError(t, err)
		require.NoError(t, m.Validate())
		g, size := m.KVLayerGroups()
		require.Equal(t, want.groups, g, name)
		require.Equal(t, want.size, size, name)
	}
	// A 5:1 pattern like Gemma 3's (50 window, 10 full layers): six groups of the
	// fewest; 12 full and 13 window layers: groups of 13, one layer of padding.
	g, size := Model{Layers: 60, Window: 1024, WindowLayers: 50}.KVLayerGroups()
	require.Equal(t, 10, size)
	require.Len(t, g, 6)
	g, size = Model{Layers: 25, Window: 128, WindowLayers: 13}.KVLayerGroups()
	require.Equal(t, 13, size)
	require.Equal(t, []LayerGroup{{0, 12, 0}, {128, 13, 0}}, g)
	g, size = Model{Layers: 7, Window: 64, WindowLayers: 3}.KVLayerGroups() // 4 full, 3 window
	require.Equal(t, 4, size)
	require.Equal(t, []LayerGroup{{0, 4, 0}, {64, 3, 0}}, g)
	g, size = Model{Layers: 40, Window: 64, WindowLayers: 10}.KVLayerGroups() // 30 full, 10 window
	require.Equal(t, 10, size)
	require.Equal(t, []LayerGroup{{0, 10, 0}, {0, 10, 0}, {0, 10, 0}, {64, 10, 0}}, g)
}

func TestGroupedNumBlocks(t *testing.T) {
	d := Default()
	require.Equal(t, d.NumBlocks(16), d.GroupedNumBlocks(16), "no window: one group of all layers")
	d.Model, _ = LookupModel("gemma-2-9b")
	d.GPU = gpus["a100-80"]
	require.NoError(t, d.Validate())
	// Two groups of 21 layers: a block holds half the layers, twice as many blocks.
	require.InDelta(t, 2*d.NumBlocks(16), d.GroupedNumBlocks(16), 2)
	require.Equal(t, 0, d.GroupedNumBlocks(0))
}

func TestWindowValidation(t *testing.T) {
	m, _ := LookupModel("gemma-2-9b")
	for _, bad := range []func(m *Model){
		func(m *Model) { m.ActiveParams = m.Params * 2 },
		func(m *Model) { m.ActiveParams = -1 },
		func(m *Model) { m.Window = 0 },
		func(m *Model) { m.WindowLayers = 0 },
		func(m *Model) { m.Window = 1 },
		func(m *Model) { m.Window = MaxContext + 1 },
		func(m *Model) { m.WindowLayers = m.Layers + 1 },
		func(m *Model) { m.WindowLayers = -1 },
		func(m *Model) { m.Window = -5 },
		func(m *Model) { m.Chunk, m.ChunkLayers = 8192, 10 }, // a window and a chunk
	} {
		c := m
		bad(&c)
		require.ErrorIs(t, c.Validate(), ErrInvalid)
	}
}

func TestChunkValidation(t *testing.T) {
	m, err := LookupModel("llama-4-scout-17b-16e")
	require.NoError(t, err)
	require.NoError(t, m.Validate())
	require.True(t, m.HasLocalAttention())
	require.Equal(t, 36, m.LocalLayers())
	for _, bad := range []func(m *Model){
		func(m *Model) { m.Chunk = 0 },
		func(m *Model) { m.ChunkLayers = 0 },
		func(m *Model) { m.Chunk = -1 },
		func(m *Model) { m.Chunk = MaxContext + 1 },
		func(m *Model) { m.ChunkLayers = m.Layers }, // chunked groups need a full one
		func(m *Model) { m.ChunkLayers = -1 },
		func(m *Model) { m.Window, m.WindowLayers = 4096, 12 },
	} {
		c := m
		bad(&c)
		require.ErrorIs(t, c.Validate(), ErrInvalid, "%+v", c)
	}
	ok := Model{Name: "tiny", Layers: 4, KVHeads: 1, HeadDim: 8, Hidden: 8, Params: 1, MaxSeqLen: 64, Chunk: 1, ChunkLayers: 3}
	require.NoError(t, ok.Validate())
	g, size := ok.KVLayerGroups() // 1 full, 3 chunked: groups of 1 (3 ≥ 1.5)
	require.Equal(t, 1, size)
	require.Equal(t, []LayerGroup{{Layers: 1}, {Chunk: 1, Layers: 1}, {Chunk: 1, Layers: 1}, {Chunk: 1, Layers: 1}}, g)
}
