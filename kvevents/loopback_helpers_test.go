package kvevents

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Helpers of the loopback tests: real sockets on 127.0.0.1, free ports, bounded
// waits.

const waitLimit = 10 * time.Second

func testPublisher(t *testing.T, cfg PublisherConfig) *Publisher {
	t.Helper()
	if cfg.Endpoint == "" {
		cfg.Endpoint = "tcp://127.0.0.1:0"
	}
	if cfg.ReplayEndpoint == "" {
		cfg.ReplayEndpoint = "tcp://127.0.0.1:0"
	}
	cfg.Mode = Bind
	if cfg.Linger == 0 {
		cfg.Linger = -1
	}
	p, err := NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// record is what the collector keeps of one notification.
type record struct {
	Notification
	mark uint64 // Applied: the first block hash of the batch's first event
	ts   float64
}

// collector is a Handler that keeps every notification per engine.
type collector struct {
	mu   sync.Mutex
	logs map[string][]record
	cond chan struct{}
}

func newCollector() *collector {
	return &collector{logs: map[string][]record{}, cond: make(chan struct{}, 1)}
}

func (c *collector) handle(n Notification) {
	r := record{Notification: n}
	if n.Kind == Applied {
		if len(n.Batch.Events) > 0 && len(n.Batch.Events[0].BlockHashes) > 0 {
			r.mark = n.Batch.Events[0].BlockHashes[0].Key()
		}
		r.ts = n.Batch.TS
		r.Batch = nil // not valid after the call
	}
	c.mu.Lock()
	c.logs[n.Engine] = append(c.logs[n.Engine], r)
	c.mu.Unlock()
	select {
	case c.cond <- struct{}{}:
	default:
	}
}

func (c *collector) log(engine string) []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]record(nil), c.logs[engine]...)
}

// waitFor polls until cond holds on the engine's log.
func (c *collector) waitFor(t *testing.T, engine, what string, cond func([]record) bool) []record {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		l := c.log(engine)
		if cond(l) {
			return l
		}
		select {
		case <-c.cond:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%s: timed out waiting for %s; log:\n%s", engine, what, dump(l))
		}
	}
}

func dump(l []record) string {
	var b strings.Builder
	for _, r := range l {
		fmt.Fprintf(&b, "  %v mark=%d\n", r.Notification, r.mark)
	}
	return b.String()
}

func applied(l []record) []record {
	var out []record
	for _, r := range l {
		if r.Kind == Applied {
			out = append(out, r)
		}
	}
	return out
}

func countKind(l []record, k NoticeKind) int {
	n := 0
	for _, r := range l {
		if r.Kind == k {
			n++
		}
	}
	return n
}

// markBatch is a small batch whose first hash and ts identify it.
func markBatch(run int, i uint64) *Batch {
	return &Batch{TS: float64(run*1_000_000) + float64(i), Events: []Event{{
		Type: BlockStored, BlockHashes: []BlockHash{HashUint64(i)}, TokenIDs: []int32{1, 2, 3, 4},
		BlockSize: 4, Medium: Some(MediumGPU), GroupIdx: Some[int64](0)}}}
}

func testSubscriber(t *testing.T, c *collector) *Subscriber {
	t.Helper()
	s, err := NewSubscriber(context.Background(), SubscriberConfig{Handler: c.handle,
		DialRetry: 20 * time.Millisecond, ReplayTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// goLive publishes probe batches until the subscriber applies one from the live
// stream (the subscription is then in place), and returns the next sequence number.
func goLive(t *testing.T, p *Publisher, c *collector, engine string, run int) uint64 {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		seq, err := p.Publish(markBatch(run, 1<<40))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		for _, r := range applied(c.log(engine)) {
			if !r.Replayed && r.Seq <= seq {
				return seq + 1
			}
		}
	}
	t.Fatalf("%s: never went live; log:\n%s", engine, dump(c.log(engine)))
	return 0
}

// checkContiguous checks that Applied and GapLost notices tile [from, to) in order
// and that applied marks are the published ones (mark == seq unless a probe).
func checkContiguous(t *testing.T, l []record, from, to uint64) {
	t.Helper()
	next := from
	for _, r := range l {
		switch r.Kind {
		case Applied:
			if r.Seq < from {
				continue
			}
			if r.Seq != next {
				t.Fatalf("applied seq %d, want %d; log:\n%s", r.Seq, next, dump(l))
			}
			if r.mark != 1<<40 && r.mark != r.Seq {
				t.Fatalf("seq %d carries batch %d", r.Seq, r.mark)
			}
			next++
		case GapLost:
			if r.To <= from {
				continue
			}
			if r.From != next {
				t.Fatalf("lost [%d, %d), want from %d", r.From, r.To, next)
			}
			next = r.To
		case Restarted:
			t.Fatalf("unexpected restart: %v", r.Notification)
		}
	}
	if next < to {
		t.Fatalf("covered up to %d, want %d", next, to)
	}
}

// publishMarks publishes batches whose mark is their sequence number.
func publishMarks(t *testing.T, p *Publisher, run int, from, to uint64) {
	t.Helper()
	for i := from; i < to; i++ {
		seq, err := p.Publish(markBatch(run, i))
		if err != nil {
			t.Fatal(err)
		}
		if seq != i {
			t.Fatalf("published seq %d, want %d", seq, i)
		}
	}
}

// rankPublisher starts a publisher of data-parallel rank 2 whose endpoints before
// the offset are tcp://127.0.0.1:base and :base+1000 (so it binds base+2 and
// base+1002), and returns it with base. Ports are probed free and then bound, and
// another process may take one in between: the whole start is retried rather than
// trusting the probe.
func rankPublisher(t *testing.T) (*Publisher, int) {
	t.Helper()
	var lastErr error
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port - 2 // the port just freed is the PUB port
		l.Close()
		if base < 1 || base+1002 > 65535 {
			continue
		}
		p, err := NewPublisher(PublisherConfig{Endpoint: fmt.Sprintf("tcp://127.0.0.1:%d", base),
			ReplayEndpoint: fmt.Sprintf("tcp://127.0.0.1:%d", base+1000), DataParallelRank: 2, Mode: Bind, Linger: -1})
		if err != nil {
			lastErr = err // a port was taken: try others
			continue
		}
		t.Cleanup(func() { _ = p.Close() })
		return p, base
	}
	t.Fatalf("no free ports for a rank-2 publisher in 50 tries: %v", lastErr)
	return nil, 0
}

// payloadRank checks that a published batch carries the publisher's rank.
func payloadRank(t *testing.T, p *Publisher) {
	t.Helper()
	p.mu.Lock()
	items := p.ring.from(0, nil)
	p.mu.Unlock()
	b, err := DecodeBatch(items[len(items)-1].payload)
	if err != nil {
		t.Fatal(err)
	}
	if b.DataParallelRank != Some[int64](int64(p.cfg.DataParallelRank)) {
		t.Fatalf("rank %+v", b.DataParallelRank)
	}
}
