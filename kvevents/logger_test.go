package kvevents

import (
	"context"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagedkv/pagedkv/internal/testio"
)

// garbagePeer listens on loopback and answers each connection with bytes that are
// not a ZMTP greeting, then hangs up. It counts the connections it served.
func garbagePeer(t *testing.T) (endpoint string, conns func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(strings.Repeat("HTTP/1.1 400 Bad Request\r\n", 4)))
			_ = c.Close()
			mu.Lock()
			n++
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return "tcp://" + l.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// sendGarbage connects to a tcp:// endpoint, writes bytes that are not a ZMTP
// greeting and hangs up.
func sendGarbage(t *testing.T, endpoint string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(endpoint, "tcp://"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(strings.Repeat("GET / HTTP/1.1\r\n", 8)))
	_ = c.Close()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A peer that is not ZeroMQ connecting to the publisher's sockets: zmq4's line
// goes to Config.Logger (with its prefix) and is counted, and nothing reaches the
// process's stderr.
func TestPublisherLogger(t *testing.T) {
	stderr := testio.CaptureStderr(t)
	var buf testio.SyncBuffer
	p := testPublisher(t, PublisherConfig{Logger: log.New(&buf, "test: ", 0)})
	sendGarbage(t, p.Endpoint())
	sendGarbage(t, p.ReplayEndpoint())
	waitUntil(t, "two logged lines", func() bool { return strings.Count(buf.String(), "\n") == 2 })
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, "test: could not open a ZMTP connection") {
			t.Errorf("logged %q", line)
		}
	}
	if got := p.Stats().HandshakeFailures; got != 2 {
		t.Errorf("HandshakeFailures %d, want 2", got)
	}
	// The publisher still works.
	if _, err := p.Publish(&Batch{}); err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	if s := stderr(); s != "" {
		t.Errorf("stderr: %q", s)
	}
}

// A discarding logger keeps stderr clean; the failures are still counted.
func TestPublisherDiscardLogger(t *testing.T) {
	stderr := testio.CaptureStderr(t)
	p := testPublisher(t, PublisherConfig{Logger: log.New(io.Discard, "", 0)})
	sendGarbage(t, p.Endpoint())
	waitUntil(t, "a counted handshake failure", func() bool { return p.Stats().HandshakeFailures == 1 })
	_ = p.Close()
	if s := stderr(); s != "" {
		t.Errorf("stderr: %q", s)
	}
}

// The default (nil) is zmq4's own: os.Stderr with the prefix "zmq4: ".
func TestPublisherDefaultLogger(t *testing.T) {
	stderr := testio.CaptureStderr(t)
	p := testPublisher(t, PublisherConfig{})
	sendGarbage(t, p.Endpoint())
	waitUntil(t, "a counted handshake failure", func() bool { return p.Stats().HandshakeFailures == 1 })
	_ = p.Close()
	if s := stderr(); !strings.HasPrefix(s, "zmq4: could not open a ZMTP connection") || strings.Count(s, "\n") != 1 {
		t.Errorf("stderr: %q", s)
	}
}

// A subscriber whose engine's endpoints are held by a peer that is not ZeroMQ
// retries, counts the failures, reports the replay lost, and writes nothing to its
// logger or to stderr.
func TestSubscriberNonZMTPPeer(t *testing.T) {
	stderr := testio.CaptureStderr(t)
	ep, conns := garbagePeer(t)
	var buf testio.SyncBuffer
	c := newCollector()
	s, err := NewSubscriber(context.Background(), SubscriberConfig{Handler: c.handle, DialRetry: 5 * time.Millisecond,
		Logger: log.New(&buf, "test: ", 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Add(Endpoint{Engine: "e", Pub: ep, Replay: ep}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "three failed connections and a failed replay", func() bool {
		st, _ := s.Status("e")
		return st.Stats.ConnectFailures >= 3 && st.Stats.ReplayFailures >= 1
	})
	if conns() < 3 {
		t.Errorf("the peer served %d connections", conns())
	}
	_ = s.Close()
	if b := buf.String(); b != "" {
		t.Errorf("logged %q", b)
	}
	if out := stderr(); out != "" {
		t.Errorf("stderr: %q", out)
	}
}
