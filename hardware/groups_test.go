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
		"gemma-2-9b":      {[]LayerGroup{{0, 21}, {4096, 21}}, 21},
		"gemma-2-27b":     {[]LayerGroup{{0, 23}, {4096, 23}}, 23},
		"gpt-oss-20b":     {[]LayerGroup{{0, 12}, {128, 12}}, 12},
		"mistral-7b-v0.1": {[]LayerGroup{{4096, 32}}, 32},
		"llama-3-8b":      {[]LayerGroup{{0, 32}}, 32},
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
	require.Equal(t, []LayerGroup{{0, 12}, {128, 13}}, g)
	g, size = Model{Layers: 7, Window: 64, WindowLayers: 3}.KVLayerGroups() // 4 full, 3 window
	require.Equal(t, 4, size)
	require.Equal(t, []LayerGroup{{0, 4}, {64, 3}}, g)
	g, size = Model{Layers: 40, Window: 64, WindowLayers: 10}.KVLayerGroups() // 30 full, 10 window
	require.Equal(t, 10, size)
	require.Equal(t, []LayerGroup{{0, 10}, {0, 10}, {0, 10}, {64, 10}}, g)
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
	} {
		c := m
		bad(&c)
		require.ErrorIs(t, c.Validate(), ErrInvalid)
	}
}
