package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pagedkv/pagedkv/internal/testio"

	"github.com/stretchr/testify/require"
)

// notZMQ connects to a tcp:// endpoint, writes what no ZeroMQ peer would and
// hangs up.
func notZMQ(t *testing.T, endpoint string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(endpoint, "tcp://"), time.Second)
	require.NoError(t, err)
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(strings.Repeat("GET / HTTP/1.1\r\n", 8)))
	_ = c.Close()
}

// runEngineProbed runs kvctl engine, probes both of its sockets with a peer that is
// not ZeroMQ while it lingers, and returns its summary and stderr.
func runEngineProbed(t *testing.T, extra ...string) (engineSummary, string) {
	t.Helper()
	trace := writeTrace(t, 2)
	pr, pw := io.Pipe()
	var stderr testio.SyncBuffer
	done := make(chan int, 1)
	go func() {
		defer pw.Close()
		done <- run(append([]string{"engine", "-trace", trace, "-pub", "tcp://127.0.0.1:0", "-replay", "tcp://127.0.0.1:0",
			"-hash-algo", "xxh3", "-num-blocks", "100", "-linger", "1s"}, extra...), nil, pw, &stderr)
	}()
	lines := bufio.NewScanner(pr)
	require.True(t, lines.Scan())
	var hello struct{ Pub, Replay string }
	require.NoError(t, json.Unmarshal(lines.Bytes(), &hello))
	notZMQ(t, hello.Pub)
	notZMQ(t, hello.Replay)
	require.True(t, lines.Scan(), stderr.String())
	var sum engineSummary
	require.NoError(t, json.Unmarshal(lines.Bytes(), &sum))
	require.Equal(t, exitOK, <-done, stderr.String())
	return sum, stderr.String()
}

// zmq4 logs a connection that is not ZeroMQ to os.Stderr in its own format by
// default; kvctl engine drops it (counting it in the summary) unless -v, which
// prints one "kvctl engine: zmq4: " line per connection.
func TestEngineZMQLog(t *testing.T) {
	osStderr := testio.CaptureStderr(t)
	sum, stderr := runEngineProbed(t)
	require.Equal(t, uint64(2), sum.Handshakes, "both probes were seen within -linger")
	require.Empty(t, stderr)
	require.Empty(t, osStderr(), "nothing reached the process's stderr")

	sum, stderr = runEngineProbed(t, "-v")
	require.Equal(t, uint64(2), sum.Handshakes)
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	require.Len(t, lines, 2, stderr)
	for _, l := range lines {
		require.True(t, strings.HasPrefix(l, "kvctl engine: zmq4: could not open a ZMTP connection"), l)
	}
}

// kvctl events against a peer that is not a ZeroMQ PUB socket: one line on stderr
// that says so, with or without -v.
func TestEventsNotZMQPeer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			_ = c.Close()
		}
	}()
	defer func() { _ = l.Close(); <-served }()
	for _, v := range []string{"-v=false", "-v"} {
		code, stdout, stderr := kvctl("", "events", "-sub", "tcp://"+l.Addr().String(), "-n", "1", "-timeout", "500ms", v)
		require.Equal(t, exitFailure, code, v)
		require.Empty(t, stdout)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "%s: one line: %q", v, stderr)
		require.True(t, strings.HasPrefix(stderr, "kvctl events: 0 of 1 events within -timeout 500ms ("), stderr)
		require.Contains(t, stderr, "failed the ZeroMQ handshake", stderr)
	}
}
