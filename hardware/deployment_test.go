package hardware

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustModel(t *testing.T, name string) Model {
	t.Helper()
	m, err := LookupModel(name)
	require.NoError(t, err)
	return m
}

func TestSizing(t *testing.T) {
	d := Default()
	require.NoError(t, d.Validate())
	require.Equal(t, 819200.0, d.Model.KVBytesPerToken(2), "OPT-13B: 800 KiB per token")
	// Table 1 of the vLLM paper: about 15.7K slots for OPT-13B on one A100-40GB.
	require.InDelta(t, 15700, d.KVSlots(), 500)
	require.Equal(t, d.KVSlots()/16, d.NumBlocks(16))
	d.Model, d.TP = mustModel(t, "llama-2-70b"), 4
	d.GPU, _ = LookupGPU("a100-80")
	require.Equal(t, 2*80*2*128*2.0, d.KVBytesPerTokenPerGPU(), "8 KV heads over 4 GPUs")
	require.NoError(t, d.Validate())
	d.TP = 16 // more GPUs than KV heads: each holds one, replicated
	require.Equal(t, 2*80*1*128*2.0, d.KVBytesPerTokenPerGPU())
	require.NoError(t, d.Validate())
}

func TestTimeModel(t *testing.T) {
	d := Default()
	// The time model is a roofline: more context costs more time.
	require.Greater(t, d.IterationTime(32, 64000), d.IterationTime(32, 1000))
	require.Equal(t, d.Overhead+d.RooflineTime(32, 1000), d.IterationTime(32, 1000))
	require.Zero(t, d.IterationTime(0, 1000))
	require.Zero(t, d.RooflineTime(0, 1000))
	// Small batches are bound by reading the weights: 25.7 GB over 1555 GB/s × 0.8.
	require.InDelta(t, 25.7e9/(1555e9*0.8), d.RooflineTime(1, 10), 1e-3)
	// Large prefills are bound by compute: 2 × 12.85e9 FLOPs per token at 156 TFLOP/s.
	require.InDelta(t, 8192*2*12.85e9/156e12, d.RooflineTime(8192, 0), 0.01)
}

func TestValidate(t *testing.T) {
	for name, c := range map[string]struct {
		mod  func(*Deployment)
		want string
	}{
		"tp 0":            {func(d *Deployment) { d.TP = 0 }, "tensor-parallel degree 0"},
		"tp 3 of 40":      {func(d *Deployment) { d.TP = 3 }, "must divide OPT-13B's 40 attention heads"},
		"tp 1024":         {func(d *Deployment) { d.TP = 1024 }, "40 attention heads"},
		"tp 8 of 12 kv":   {func(d *Deployment) { d.Model.Heads, d.Model.KVHeads, d.TP = 48, 12, 8 }, "12 KV heads or be a multiple"},
		"mem util 0":      {func(d *Deployment) { d.MemUtil = 0 }, "MemUtil 0"},
		"mem util 2":      {func(d *Deployment) { d.MemUtil = 2 }, "MemUtil 2"},
		"mem util NaN":    {func(d *Deployment) { d.MemUtil = math.NaN() }, "MemUtil NaN"},
		"kv bytes":        {func(d *Deployment) { d.KVBytesPerElem = -1 }, "KVBytesPerElem"},
		"weights":         {func(d *Deployment) { d.WeightBytesPerParam = math.Inf(1) }, "WeightBytesPerParam"},
		"efficiency":      {func(d *Deployment) { d.MemEfficiency = 1.5 }, "MemEfficiency"},
		"overhead":        {func(d *Deployment) { d.Overhead = -1 }, "Overhead"},
		"host bandwidth":  {func(d *Deployment) { d.HostBandwidth = math.NaN() }, "HostBandwidth"},
		"too big":         {func(d *Deployment) { d.Model = mustModel(t, "llama-2-70b") }, "GiB for KV"},
		"model layers":    {func(d *Deployment) { d.Model.Layers = 0 }, "Layers 0"},
		"model huge dims": {func(d *Deployment) { d.Model.HeadDim = 1 << 40 }, "HeadDim"},
		"model params":    {func(d *Deployment) { d.Model.Params = math.NaN() }, "Params"},
		"model context":   {func(d *Deployment) { d.Model.MaxSeqLen = 0 }, "MaxSeqLen"},
		"kv > heads":      {func(d *Deployment) { d.Model.KVHeads = 80 }, "KV heads do not divide"},
		"gpu memory":      {func(d *Deployment) { d.GPU.MemBytes = math.Inf(1) }, "MemBytes"},
		"gpu bandwidth":   {func(d *Deployment) { d.GPU.Bandwidth = 0 }, "Bandwidth"},
	} {
		d := Default()
		c.mod(&d)
		err := d.Validate()
		require.ErrorIs(t, err, ErrInvalid, name)
		require.ErrorContains(t, err, c.want, name)
	}
}

func TestWithDefaults(t *testing.T) {
	require.Equal(t, Default(), Deployment{}.WithDefaults())
	d := Deployment{TP: 4, Model: mustModel(t, "llama-2-70b")}.WithDefaults()
	require.Equal(t, 4, d.TP)
	require.Equal(t, "Llama-2-70B", d.Model.Name)
	require.Equal(t, Default().GPU, d.GPU)
	require.Equal(t, 0.012, d.Overhead)
	// Heads 0 means Hidden / HeadDim.
	m := mustModel(t, "llama-3-70b")
	m.Heads = 0
	require.Equal(t, 64, m.AttentionHeads())
}

func TestLookupsAreCopies(t *testing.T) {
	m := mustModel(t, "opt-13b")
	m.Layers = 1
	require.Equal(t, 40, mustModel(t, "opt-13b").Layers)
	names := ModelNames()
	require.Contains(t, names, "llama-3.1-70b")
	require.IsIncreasing(t, names)
	names[0] = "x"
	require.NotEqual(t, "x", ModelNames()[0])
	require.Equal(t, []string{"a100-40", "a100-80", "h100-80", "h200-141"}, GPUNames())
	_, err := LookupModel("gpt-5")
	require.ErrorIs(t, err, ErrUnknown)
	require.ErrorContains(t, err, "opt-13b")
	_, err = LookupGPU("tpu")
	require.ErrorIs(t, err, ErrUnknown)
	for _, n := range ModelNames() {
		require.NoError(t, mustModel(t, n).Validate(), n)
	}
	for _, n := range GPUNames() {
		g, _ := LookupGPU(n)
		require.NoError(t, g.Validate(), n)
	}
}
