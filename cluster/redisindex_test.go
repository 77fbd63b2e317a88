package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"
)

func TestRedisConfig(t *testing.T) {
	for _, cfg := range []RedisConfig{
		{KeyTTL: time.Microsecond}, {KeyTTL: -time.Second}, {MaxBatchHashes: -1}, {Timeout: -1}, {DB: -1},
	} {
		_, err := NewRedisIndex(cfg)
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", cfg)
	}
	x, err := NewRedisIndex(RedisConfig{})
	require.NoError(t, err)
	require.Equal(t, "pagedkv:{default}:", x.cfg.Prefix)
	require.Equal(t, 24*time.Hour, x.cfg.KeyTTL)
	require.NoError(t, x.Close())
	require.NoError(t, x.Close())
	_, err = x.Apply(context.Background(), st("a", 0))
	require.ErrorIs(t, err, ErrClosed)
}

// Block keys expire KeyTTL after they were last stored or usefully matched: a hot
// block stays indexed, a forgotten one goes (a miss, never a stale hit).
func TestRedisKeyTTL(t *testing.T) {
	mr := miniredis.RunT(t)
	x, err := NewRedisIndex(RedisConfig{Addr: mr.Addr(), Prefix: "ttl:{a}:", KeyTTL: 10 * time.Second})
	require.NoError(t, err)
	defer x.Close()
	mustApply(t, x, st("a", 0, gpu(1, 2), gpu(7)), Applied)
	key := "ttl:{a}:b:0000000000000001"
	require.Equal(t, 10*time.Second, mr.TTL(key))
	mr.FastForward(8 * time.Second)
	require.Len(t, matchMap(t, x, 1, 2), 1) // renews 1 and 2
	require.Equal(t, 10*time.Second, mr.TTL(key))
	mr.FastForward(8 * time.Second)
	require.Equal(t, em("a", 2, 2), matchMap(t, x, 1, 2)["a"])
	require.Empty(t, matchMap(t, x, 7), "7 was never matched: expired")
	require.Zero(t, mr.TTL("ttl:{a}:e:a"), "meta keys never expire")
	mr.FastForward(11 * time.Second)
	require.Empty(t, matchMap(t, x, 1, 2))
	info, err := x.Engine(context.Background(), "a")
	require.NoError(t, err)
	require.Equal(t, EngineInfo{State: EngineLive, Next: 1}, info)
}

// Fields of a dropped or cleared engine die at once (its generation moves on) and
// expire with their key; the engine's new fields carry the new generation.
func TestRedisGenerations(t *testing.T) {
	mr := miniredis.RunT(t)
	x, err := NewRedisIndex(RedisConfig{Addr: mr.Addr(), Prefix: "gen:{a}:"})
	require.NoError(t, err)
	defer x.Close()
	ctx := context.Background()
	key := "gen:{a}:b:0000000000000001"
	mustApply(t, x, st("a", 0, gpu(1), gpu(1)), Applied)
	require.Equal(t, "2", mr.HGet(key, "a|g|0"))
	mustApply(t, x, st("a", 1, cleared()), Applied)
	require.Equal(t, "2", mr.HGet(key, "a|g|0"), "dead, left to expire")
	require.Empty(t, matchMap(t, x, 1))
	mustApply(t, x, st("a", 2, gpu(1)), Applied)
	require.Equal(t, "1", mr.HGet(key, "a|g|1"))
	require.Equal(t, em("a", 1, 1), matchMap(t, x, 1)["a"])
	require.NoError(t, x.DropEngine(ctx, "a"))
	require.Empty(t, matchMap(t, x, 1))
	require.Equal(t, "2", mr.HGet("gen:{a}:e:a", "gen"), "a dropped engine keeps its generation")
	mustApply(t, x, st("a", 0, cpu(1)), Applied)
	require.Equal(t, em("a", 1, 0), matchMap(t, x, 1)["a"])
	// A remove of a block never stored leaves nothing behind.
	mustApply(t, x, st("a", 1, rmGPU(99)), Applied)
	require.False(t, mr.Exists("gen:{a}:b:0000000000000063"))
	// Saturation at 255, then one remove deletes the field.
	hs := make([]uint64, 300)
	for i := range hs {
		hs[i] = 5
	}
	mustApply(t, x, st("a", 2, gpu(hs...)), Applied)
	require.Equal(t, "255", mr.HGet("gen:{a}:b:0000000000000005", "a|g|2"))
	mustApply(t, x, st("a", 3, rmGPU(5)), Applied)
	require.False(t, mr.Exists("gen:{a}:b:0000000000000005"))
}
