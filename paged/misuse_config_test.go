package paged

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// New with the extremes of every Config integer, bad floats, and the reported sizes
// that used to exhaust memory: ErrInvalidConfig before anything is allocated.
func TestConfigMisuse(t *testing.T) {
	type row struct {
		name string
		mod  func(c *Config, v int)
		ok   func(v int) bool // zero and valid values
	}
	for _, r := range []row{
		{"NumBlocks", func(c *Config, v int) { c.NumBlocks = v }, func(v int) bool { return false }},
		{"BlockSize", func(c *Config, v int) { c.BlockSize = v }, is0},
		{"StatsWindow", func(c *Config, v int) { c.StatsWindow = v }, is0},
		{"HostBlocks", func(c *Config, v int) { c.HostBlocks = v }, is0},
		{"Events.QueueSize", func(c *Config, v int) { c.Events = EventOptions{Enabled: true, QueueSize: v} }, is0},
		{"Events.QueueTokens", func(c *Config, v int) { c.Events = EventOptions{Enabled: true, QueueTokens: v} }, is0},
		{"HostCache.MinHits", func(c *Config, v int) { c.HostBlocks, c.HostCache = 4, HostCacheOptions{Policy: WriteBack, MinHits: v} }, is0},
		{"HostCache.MinPriority", func(c *Config, v int) {
			c.HostBlocks, c.HostCache = 4, HostCacheOptions{Policy: WriteThrough, MinPriority: v}
		}, func(v int) bool { return v >= MinPriority && v <= MaxPriority }},
	} {
		for _, v := range ints {
			c := Config{NumBlocks: 8}
			r.mod(&c, v)
			_, err := New(c)
			if r.ok(v) {
				require.NoError(t, err, "%s=%d", r.name, v)
			} else {
				require.True(t, errors.Is(err, ErrInvalidConfig), "%s=%d: %v", r.name, v, err)
			}
		}
	}
	for name, c := range map[string]Config{
		"StatsWindow 1<<40":     {NumBlocks: 8, StatsWindow: 1 << 40},
		"BlockSize 1<<40":       {NumBlocks: 8, BlockSize: 1 << 40},
		"BlockSize 1<<62":       {NumBlocks: 8, BlockSize: 1 << 62},
		"BlockSize MaxBlock+1":  {NumBlocks: 8, BlockSize: MaxBlockSize + 1},
		"NumBlocks near 1<<31":  {NumBlocks: 1<<31 - 2},
		"NumBlocks MaxBlocks+1": {NumBlocks: MaxNumBlocks + 1},
		"metadata over limit":   {NumBlocks: MaxNumBlocks, BlockSize: MaxBlockSize},
		"host over limit":       {NumBlocks: 8, HostBlocks: MaxNumBlocks + 1},
		"host metadata":         {NumBlocks: MaxNumBlocks / 2, BlockSize: 64, HostBlocks: MaxNumBlocks / 2},
		"watermark NaN":         {NumBlocks: 8, Watermark: math.NaN()},
		"watermark +Inf":        {NumBlocks: 8, Watermark: math.Inf(1)},
		"watermark -Inf":        {NumBlocks: 8, Watermark: math.Inf(-1)},
		"watermark 1":           {NumBlocks: 8, Watermark: 1},
		"watermark disabled":    {NumBlocks: 8, Watermark: 0.5, DisableWatermark: true},
		"pinned NaN":            {NumBlocks: 8, MaxPinnedFraction: math.NaN()},
		"pinned negative":       {NumBlocks: 8, MaxPinnedFraction: -0.5},
		"pinned above 1":        {NumBlocks: 8, MaxPinnedFraction: 1.5},
		"pinned +Inf":           {NumBlocks: 8, MaxPinnedFraction: math.Inf(1)},
		"host cache policy 3":   {NumBlocks: 8, HostBlocks: 4, HostCache: HostCacheOptions{Policy: 3}},
		"host cache policy 255": {NumBlocks: 8, HostBlocks: 4, HostCache: HostCacheOptions{Policy: 255}},
		"host cache no host":    {NumBlocks: 8, HostCache: HostCacheOptions{Policy: WriteBack}},
		"host cache no caching": {NumBlocks: 8, HostBlocks: 4, DisablePrefixCaching: true, HostCache: HostCacheOptions{Policy: WriteBack}},
		"host MinHits over":     {NumBlocks: 8, HostBlocks: 4, HostCache: HostCacheOptions{Policy: WriteThrough, MinHits: MaxMinHits + 1}},
		"host MinPriority over": {NumBlocks: 8, HostBlocks: 4, HostCache: HostCacheOptions{Policy: WriteBack, MinPriority: MaxPriority + 1}},
	} {
		_, err := New(c)
		require.True(t, errors.Is(err, ErrInvalidConfig), "%s: %v", name, err)
	}
}

// A zero field means its documented default; Config{NumBlocks: n} works.
func TestZeroConfigMeansDefaults(t *testing.T) {
	m, err := New(Config{NumBlocks: 8})
	require.NoError(t, err)
	c := m.Config()
	d := DefaultConfig()
	d.NumBlocks = 8
	require.Equal(t, d, c)
	require.Equal(t, 16, c.BlockSize)
	require.False(t, c.DisablePrefixCaching, "a zero Config caches prefixes")
	prefill(t, m, span(0, 40), SeqOptions{})
	n, _ := m.LookupPrompt(span(0, 40), SeqOptions{})
	require.Equal(t, 32, n)
	require.Zero(t, m.WatermarkBlocks()) // floor(0.01 × 8)
	m, err = New(Config{NumBlocks: 1000, DisableWatermark: true})
	require.NoError(t, err)
	require.Zero(t, m.WatermarkBlocks())
	require.Zero(t, m.Config().Watermark)
	m, err = New(Config{NumBlocks: 1000})
	require.NoError(t, err)
	require.Equal(t, 10, m.WatermarkBlocks())
	m, err = New(Config{NumBlocks: 8, Events: EventOptions{Enabled: true}})
	require.NoError(t, err)
	require.Equal(t, DefaultEventQueueSize, m.Config().Events.QueueSize)
	require.Equal(t, DefaultEventQueueTokens, m.Config().Events.QueueTokens)
}
