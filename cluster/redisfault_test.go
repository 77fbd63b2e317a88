package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// ownRedis starts a redis-server for one test (it will be killed and restarted).
func ownRedis(t *testing.T, extra ...string) *redisServer {
	t.Helper()
	if !realRedisAvailable() {
		t.Skip("redis-server not on PATH: real-Redis fault tests skipped")
	}
	srv, err := startRedisServer(t.TempDir(), extra...)
	require.NoError(t, err)
	t.Cleanup(srv.stop)
	return srv
}

func redisIndexAt(t *testing.T, addr, prefix string) *RedisIndex {
	t.Helper()
	x, err := NewRedisIndex(RedisConfig{Addr: addr, Prefix: prefix, Timeout: 500 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = x.Close() })
	return x
}

// feed is an engine's event stream as a subscriber keeps it: every batch, so it can
// replay (vLLM's publisher keeps a replay buffer the same way).
func feed(engine EngineID, n int) []Batch {
	var bs []Batch
	for s := range n {
		bs = append(bs, st(engine, uint64(s), gpu(uint64(100*s+1), uint64(100*s+2))))
	}
	return bs
}

func requireSameAsModel(t *testing.T, x Index, bs []Batch, queries ...[]uint64) {
	t.Helper()
	m := newModel()
	for _, b := range bs {
		m.apply(b)
	}
	for _, q := range queries {
		require.Equal(t, m.match(q), matchMap(t, x, q...), "query %v", q)
	}
}

// Redis crashes without persistence: updates fail while it is down (ErrUnavailable,
// no panic); afterwards the engine is unknown to the index, the subscriber sees it
// and replays from 0, and the index is whole again (ApplyBatches reloads the script
// that the restart lost).
func TestRedisCrashEmptyRecoversByReplay(t *testing.T) {
	srv := ownRedis(t)
	ctx := context.Background()
	x := redisIndexAt(t, srv.addr(), "crash:{a}:")
	bs := feed("a", 10)
	_, err := x.ApplyBatches(ctx, bs[:5], nil)
	require.NoError(t, err)

	srv.stop()
	_, err = x.Apply(ctx, bs[5])
	require.ErrorIs(t, err, ErrUnavailable)
	_, err = x.Match(ctx, []uint64{1}, nil)
	require.ErrorIs(t, err, ErrUnavailable)
	_, err = x.Stats(ctx)
	require.ErrorIs(t, err, ErrUnavailable)

	require.NoError(t, srv.start())
	info, err := x.Engine(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, EngineUnknown, info.State, "the restart lost everything")
	rs, err := x.ApplyBatches(ctx, bs, nil) // replay from the beginning
	require.NoError(t, err)
	for _, r := range rs {
		require.Equal(t, Applied, r.Outcome)
	}
	requireSameAsModel(t, x, bs, []uint64{1, 2}, []uint64{501, 502}, []uint64{901, 902})
}

// Redis is unreachable for a while but keeps its data (AOF): failed batches are
// replayed from where the index stands, the gap never opens and nothing is lost.
func TestRedisOutageKeepsDataAndResumes(t *testing.T) {
	srv := ownRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	x := redisIndexAt(t, srv.addr(), "outage:{a}:")
	bs := feed("a", 10)
	for _, b := range bs[:5] {
		mustApply(t, x, b, Applied)
	}
	srv.stop()
	for _, b := range bs[5:7] {
		_, err := x.Apply(ctx, b)
		require.ErrorIs(t, err, ErrUnavailable)
	}
	require.NoError(t, srv.start())
	info, err := x.Engine(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, EngineInfo{State: EngineLive, Next: 5}, info)
	// The subscriber resumes with its newest batch first: a gap, then the replay.
	mustApply(t, x, bs[7], Gap)
	require.Empty(t, matchMap(t, x, 1), "behind: hidden")
	for _, b := range bs[5:] {
		mustApply(t, x, b, Applied)
	}
	requireSameAsModel(t, x, bs, []uint64{1, 2}, []uint64{701, 702})
}

// A router over the Redis index degrades to load-only routing while Redis is down
// (fast: connection refused, bounded by IndexTimeout), says so, and recovers.
func TestRouterOnRedisDegradesAndRecovers(t *testing.T) {
	const bs = 4
	srv := ownRedis(t)
	x := redisIndexAt(t, srv.addr(), "router:{a}:")
	prompt := seqTokens(8*bs+1, 1)
	hs := hashesOf(t, prompt, bs, prefix.Extras{})
	mustApply(t, x, st("b", 0, gpu(hs...)), Applied)
	r := newRouter(t, RouterConfig{Engines: []EngineID{"a", "b", "c"}, Index: x, Hash: HashConfig{BlockSize: bs},
		IndexTimeout: 200 * time.Millisecond, RetryAfter: 50 * time.Millisecond})
	d := route(t, r, prompt, RouteOptions{DryRun: true})
	require.Equal(t, EngineID("b"), d.Engine)
	require.Equal(t, 8*bs, d.HitTokens)

	srv.stop()
	for i := range 20 {
		start := time.Now()
		d := route(t, r, seqTokens(8*bs+1, int32(i)), RouteOptions{})
		require.True(t, d.Degraded)
		require.Less(t, time.Since(start), 300*time.Millisecond, "bounded by IndexTimeout")
		require.NoError(t, r.Finish(d.Ticket, FinishOptions{}))
	}
	st := r.Status()
	require.True(t, st.Degraded)
	require.Contains(t, st.Reason, "redis")

	require.NoError(t, srv.start())
	mustApply(t, x, Batch{Engine: "b", Seq: 0, Events: []Event{gpu(hs...)}}, Applied) // the replay
	require.Eventually(t, func() bool {
		d := route(t, r, prompt, RouteOptions{DryRun: true})
		return !d.Degraded && d.Engine == "b" && d.HitTokens == 8*bs
	}, 5*time.Second, 20*time.Millisecond)
	require.False(t, r.Status().Degraded)
}

// Two router replicas share one index; each runs a subscriber that applies the same
// engine streams, concurrently. Every batch is applied exactly once (the script is
// atomic), both replicas see the same index, and a replica restarted from scratch
// finds it intact.
func TestRedisSharedByReplicas(t *testing.T) {
	srv := sharedRealRedisOrSkip(t)
	ctx := context.Background()
	prefix := uniquePrefix()
	x1, x2 := redisIndexAt(t, srv.addr(), prefix), redisIndexAt(t, srv.addr(), prefix)
	engines := []EngineID{"e0", "e1", "e2"}
	var all []Batch
	for _, e := range engines {
		all = append(all, feed(e, 40)...)
	}
	applied := make([]map[string]int, 2)
	var wg sync.WaitGroup
	for k, x := range []*RedisIndex{x1, x2} {
		applied[k] = map[string]int{}
		wg.Add(1)
		go func(k int, x *RedisIndex) {
			defer wg.Done()
			for i := 0; i < len(all); i += 5 { // small pipelines, interleaved with the other replica
				rs, err := x.ApplyBatches(ctx, all[i:i+5], nil)
				if err != nil {
					panic(err)
				}
				for j, r := range rs {
					applied[k][fmt.Sprintf("%s/%d/%v", all[i+j].Engine, all[i+j].Seq, r.Outcome)]++
				}
			}
		}(k, x)
	}
	wg.Wait()
	for _, b := range all {
		a, d := fmt.Sprintf("%s/%d/applied", b.Engine, b.Seq), fmt.Sprintf("%s/%d/duplicate", b.Engine, b.Seq)
		require.Equal(t, 1, applied[0][a]+applied[1][a], "batch %s/%d applied once", b.Engine, b.Seq)
		require.Equal(t, 1, applied[0][d]+applied[1][d])
	}
	s, err := x1.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(len(all)), s.Applied)
	require.Equal(t, uint64(len(all)), s.Duplicates)
	q := []uint64{3901, 3902}
	require.Equal(t, matchMap(t, x1, q...), matchMap(t, x2, q...))
	x3 := redisIndexAt(t, srv.addr(), prefix) // a replica restarted
	requireSameAsModel(t, x3, all, q, []uint64{1, 2}, []uint64{1901})
}

func sharedRealRedisOrSkip(t *testing.T) *redisServer {
	if !realRedisAvailable() {
		t.Skip("redis-server not on PATH")
	}
	return sharedRealRedis(t)
}
