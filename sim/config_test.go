package sim

import (
	"math"
	"testing"

	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

func nan() float64 { return math.NaN() }

func TestConfigErrors(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: workload.Alpaca(), Requests: 3, Seed: 1})
	for name, c := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"policy":          {func(c *Config) { c.Policy = "lru" }, "Policy"},
		"tp negative":     {func(c *Config) { c.Hardware.TP = -1 }, "tensor-parallel"},
		"tp 3 of 40":      {func(c *Config) { c.Hardware.TP = 3 }, "40 attention heads"},
		"70B on 40 GB":    {func(c *Config) { c.Hardware.Model = model(t, "llama-2-70b") }, "GiB for KV"},
		"watermark":       {func(c *Config) { c.Watermark = 2 }, "Watermark"},
		"watermark NaN":   {func(c *Config) { c.Watermark = nan() }, "Watermark"},
		"block size":      {func(c *Config) { c.BlockSize = MaxBlockSize + 1 }, "BlockSize"},
		"block > KV":      {func(c *Config) { c.BlockSize = MaxBlockSize }, "KV capacity"},
		"block negative":  {func(c *Config) { c.BlockSize = -16 }, "BlockSize"},
		"max seqs":        {func(c *Config) { c.MaxSeqs = -1 }, "MaxSeqs"},
		"max batch":       {func(c *Config) { c.MaxBatchTokens = -1 }, "MaxBatchTokens"},
		"swap NaN":        {func(c *Config) { c.SwapSpaceGiB = nan() }, "SwapSpaceGiB"},
		"swap huge":       {func(c *Config) { c.SwapSpaceGiB = 1e30 }, "SwapSpaceGiB"},
		"mem util":        {func(c *Config) { c.Hardware.MemUtil = 2 }, "MemUtil"},
		"mem util NaN":    {func(c *Config) { c.Hardware.MemUtil = nan() }, "MemUtil"},
		"overhead":        {func(c *Config) { c.Hardware.Overhead = math.Inf(1) }, "Overhead"},
		"model zero dims": {func(c *Config) { c.Hardware.Model.Layers = 0 }, "Layers"},
	} {
		cfg := DefaultConfig()
		c.mod(&cfg)
		_, err := Run(cfg, workload.Slice(reqs))
		require.ErrorIs(t, err, ErrInvalid, name)
		require.ErrorContains(t, err, c.want, name)
	}
}

// The zero Config is the documented default: the same run as DefaultConfig, prefix
// caching on.
func TestZeroConfigIsDefault(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 2, Requests: horizon(200, 40), Seed: 4,
		SystemPrompt: 256})
	a, b := run(t, Config{}, reqs), run(t, DefaultConfig(), reqs)
	a.WallS, b.WallS = 0, 0
	require.Equal(t, b, a)
	require.Positive(t, a.PrefixHitRate, "prefix caching is on by default")
	require.Equal(t, PolicyPaged, a.Policy)
	require.Equal(t, 16, a.BlockSize)
	require.Equal(t, Config{}.withDefaults(), DefaultConfig().withDefaults())
}

func TestPolicyNamesIsACopy(t *testing.T) {
	names := PolicyNames()
	require.Equal(t, []string{PolicyPaged, PolicyOrcaMax, PolicyOrcaPow2, PolicyOrcaOracle, PolicyStatic}, names)
	names[0] = "mine"
	require.Equal(t, PolicyPaged, PolicyNames()[0])
}
