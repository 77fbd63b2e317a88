package sim

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/pagedkv/pagedkv/cluster"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// startRedis starts Debian's redis-server on a free loopback port for the test
// (stopped at cleanup) and returns its address, or skips when it is not on PATH.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not on PATH: the real-Redis run is skipped (miniredis covers the backend)")
	}
	for range 3 { // a free port may be taken before redis-server binds it
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", t.TempDir(), "--loglevel", "warning")
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			err = c.Ping(ctx).Err()
			cancel()
			if err == nil {
				break
			}
			select {
			case <-exited:
				err = fmt.Errorf("redis-server exited")
			default:
				continue
			}
			break
		}
		c.Close()
		if err == nil {
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
			return addr
		}
		_ = cmd.Process.Kill()
		<-exited
	}
	t.Fatalf("redis-server did not start: %v", err)
	return ""
}

// The same fleet run on the distributed store: precise routing and the global cache
// with the index in Redis decide exactly as with the in-memory index (both backends
// have one contract), on miniredis and on a real redis-server.
func TestClusterOnRedis(t *testing.T) {
	reqs := generate(t, clusterWorkload(horizon(240, 24)))
	cfg := ClusterConfig{Engine: DefaultConfig(), Engines: 3, CacheMode: CacheGlobal}
	cfg.Engine.checkEvery = horizon(40, 20)
	want := runCluster(t, cfg, reqs)
	require.Equal(t, "memory", want.Index)
	for _, backend := range []string{"miniredis", "redis-server"} {
		t.Run(backend, func(t *testing.T) {
			var addr string
			if backend == "miniredis" {
				addr = miniredis.RunT(t).Addr()
			} else {
				addr = startRedis(t)
			}
			idx, err := cluster.NewRedisIndex(cluster.RedisConfig{Addr: addr, Prefix: "pagedkv:{kvsim-test}:"})
			require.NoError(t, err)
			defer idx.Close()
			for run := range 2 { // the second run finds the first one's keys and drops them
				c := cfg
				c.Index = idx
				c.Engine.checkEvery = 0 // checked in memory above; each check is hundreds of round trips
				got := runCluster(t, c, reqs)
				require.Equal(t, "redis", got.Index, "run %d", run)
				require.Zero(t, got.IndexErrors)
				require.Equal(t, want.PerEngine, got.PerEngine, "run %d: every engine as with the memory index", run)
				require.Equal(t, want.HitRatePct, got.HitRatePct)
				require.Equal(t, want.TTFTs, got.TTFTs)
			}
		})
	}
}
