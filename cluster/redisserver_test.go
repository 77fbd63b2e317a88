package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisServer is a real redis-server process the tests start on a free loopback
// port (no persistence unless asked, its own temporary directory).
type redisServer struct {
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

func realRedisAvailable() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startRedisServer starts redis-server; extra args are appended (e.g. "--appendonly",
// "yes"). The caller stops it with stop.
// A port found free may be taken before redis-server binds it (other processes run
// tests too): up to three ports are tried.
func startRedisServer(dir string, extra ...string) (*redisServer, error) {
	var err error
	for range 3 {
		var port int
		if port, err = freePort(); err != nil {
			return nil, err
		}
		s := &redisServer{port: port, dir: dir}
		s.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", dir, "--protected-mode", "no", "--loglevel", "warning"}, extra...)
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func (s *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *redisServer) start() error {
	s.cmd = exec.Command("redis-server", s.args...)
	s.cmd.Dir = s.dir
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(s.cmd, s.done)
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("redis-server exited at start")
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.stop()
	return fmt.Errorf("redis-server did not answer on %s within 10s", s.addr())
}

// stop kills the server (SIGKILL: a crash, no final save) and waits for it.
func (s *redisServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// restart stops the server and starts it again on the same port.
func (s *redisServer) restart() error {
	s.stop()
	return s.start()
}

var (
	sharedRedisOnce sync.Once
	sharedRedis     *redisServer
	sharedRedisErr  error
	sharedRedisDir  string
	prefixCounter   atomic.Int64
)

// sharedRealRedis returns the package's shared redis-server, started on first use
// and stopped by TestMain.
func sharedRealRedis(t testing.TB) *redisServer {
	sharedRedisOnce.Do(func() {
		sharedRedisDir, sharedRedisErr = os.MkdirTemp("", "pagedkv-redis-")
		if sharedRedisErr == nil {
			sharedRedis, sharedRedisErr = startRedisServer(sharedRedisDir)
		}
	})
	require.NoError(t, sharedRedisErr)
	return sharedRedis
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedRedis != nil {
		sharedRedis.stop()
	}
	if sharedRedisDir != "" {
		_ = os.RemoveAll(sharedRedisDir)
	}
	os.Exit(code)
}

func uniquePrefix() string {
	return fmt.Sprintf("test%d:{t%d}:", os.Getpid(), prefixCounter.Add(1))
}

func newRealRedisIndex(t testing.TB) *RedisIndex {
	srv := sharedRealRedis(t)
	x, err := NewRedisIndex(RedisConfig{Addr: srv.addr(), Prefix: uniquePrefix()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = x.Close() })
	return x
}

func newMiniRedisIndex(t testing.TB) *RedisIndex {
	mr := miniredis.RunT(t)
	x, err := NewRedisIndex(RedisConfig{Addr: mr.Addr(), Prefix: uniquePrefix()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = x.Close() })
	return x
}
