package kvevents

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Three engines publish; one subscriber receives every batch of each in order,
// including those published before it connected (caught up by replay).
func TestLoopbackInOrderManyEngines(t *testing.T) {
	c := newCollector()
	s := testSubscriber(t, c)
	const n = 150
	var pubs []*Publisher
	for e := range 3 {
		p := testPublisher(t, PublisherConfig{Topic: fmt.Sprintf("kv@engine%d", e)})
		publishMarks(t, p, 0, 0, 20) // before the subscriber: caught up by replay
		pubs = append(pubs, p)
		if err := s.Add(Endpoint{Engine: fmt.Sprint("e", e), Pub: p.Endpoint(), Replay: p.ReplayEndpoint(),
			Topic: "kv@"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(Endpoint{Engine: "e0", Pub: "tcp://127.0.0.1:1"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("duplicate engine: %v", err)
	}
	for e, p := range pubs {
		engine := fmt.Sprint("e", e)
		c.waitFor(t, engine, "catch-up", func(l []record) bool { return len(applied(l)) >= 20 })
		next := goLive(t, p, c, engine, 0)
		publishMarks(t, p, 0, next, next+n)
		l := c.waitFor(t, engine, "all batches", func(l []record) bool {
			a := applied(l)
			return len(a) > 0 && a[len(a)-1].Seq == next+n-1
		})
		checkContiguous(t, l, 0, next+n)
		if countKind(l, GapLost) != 0 {
			t.Fatalf("lost batches:\n%s", dump(l))
		}
		// The status snapshot follows the handler call.
		for deadline := time.Now().Add(waitLimit); ; time.Sleep(5 * time.Millisecond) {
			st, _ := s.Status(engine)
			if st.NextSeq == next+n && st.Stats.Applied == next+n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("status %+v", st)
			}
		}
	}
}

// Batches the publisher keeps off the PUB socket are replayed in order.
func TestLoopbackDroppedMessagesReplayed(t *testing.T) {
	drop := map[uint64]bool{}
	p := testPublisher(t, PublisherConfig{SkipSend: func(seq uint64) bool { return drop[seq] }})
	c := newCollector()
	s := testSubscriber(t, c)
	if err := s.Add(Endpoint{Engine: "e", Pub: p.Endpoint(), Replay: p.ReplayEndpoint()}); err != nil {
		t.Fatal(err)
	}
	next := goLive(t, p, c, "e", 0)
	for _, d := range []uint64{2, 3, 10, 30, 31, 32, 33, 34, 50} {
		drop[next+d] = true // set before publishing: SkipSend reads it then
	}
	publishMarks(t, p, 0, next, next+60)
	l := c.waitFor(t, "e", "all batches", func(l []record) bool {
		a := applied(l)
		return len(a) > 0 && a[len(a)-1].Seq == next+59
	})
	checkContiguous(t, l, 0, next+60)
	if countKind(l, GapLost) != 0 || countKind(l, GapRecovered) == 0 {
		t.Fatalf("want recovered gaps and no loss:\n%s", dump(l))
	}
	for _, r := range applied(l) {
		if drop[r.Seq] && !r.Replayed {
			t.Fatalf("dropped seq %d arrived live", r.Seq)
		}
	}
	if st := p.Stats(); st.Skipped != 9 || st.ReplayRequests == 0 {
		t.Fatalf("publisher stats %+v", st)
	}
}

// A gap older than the publisher's buffer is reported lost, then the stream goes on.
func TestLoopbackReplayBeyondBufferLost(t *testing.T) {
	var dropping bool
	var mu sync.Mutex
	p := testPublisher(t, PublisherConfig{BufferSteps: 5, SkipSend: func(uint64) bool {
		mu.Lock()
		defer mu.Unlock()
		return dropping
	}})
	c := newCollector()
	s := testSubscriber(t, c)
	if err := s.Add(Endpoint{Engine: "e", Pub: p.Endpoint(), Replay: p.ReplayEndpoint(), NoCatchUp: true}); err != nil {
		t.Fatal(err)
	}
	next := goLive(t, p, c, "e", 0)
	mu.Lock()
	dropping = true
	mu.Unlock()
	publishMarks(t, p, 0, next, next+10) // never sent live; only the last 5 stay buffered
	mu.Lock()
	dropping = false
	mu.Unlock()
	publishMarks(t, p, 0, next+10, next+12)
	l := c.waitFor(t, "e", "the lost gap", func(l []record) bool {
		a := applied(l)
		return countKind(l, GapLost) > 0 && len(a) > 0 && a[len(a)-1].Seq == next+11
	})
	checkContiguous(t, l, next-1, next+12)
	for _, r := range l {
		if r.Kind == GapLost {
			if r.From != next || !errors.Is(r.Err, ErrEvicted) {
				t.Fatalf("lost %v", r.Notification)
			}
			break
		}
	}
}

// A publisher restarted on the same ports (sequence back to 0) is reported, and its
// new run is applied from 0.
func TestLoopbackPublisherRestart(t *testing.T) {
	p1 := testPublisher(t, PublisherConfig{})
	c := newCollector()
	s := testSubscriber(t, c)
	if err := s.Add(Endpoint{Engine: "e", Pub: p1.Endpoint(), Replay: p1.ReplayEndpoint()}); err != nil {
		t.Fatal(err)
	}
	next := goLive(t, p1, c, "e", 0)
	publishMarks(t, p1, 0, next, next+10)
	c.waitFor(t, "e", "run 0", func(l []record) bool {
		a := applied(l)
		return len(a) > 0 && a[len(a)-1].Seq == next+9
	})
	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	p2 := testPublisher(t, PublisherConfig{Endpoint: p1.Endpoint(), ReplayEndpoint: p1.ReplayEndpoint()})
	// Publish run 1 until the subscriber notices the restart.
	var published uint64
	c.waitFor(t, "e", "the restart", func(l []record) bool {
		if countKind(l, Restarted) > 0 {
			return true
		}
		if _, err := p2.Publish(markBatch(1, published)); err != nil {
			t.Fatal(err)
		}
		published++
		time.Sleep(20 * time.Millisecond)
		return false
	})
	publishMarks(t, p2, 1, published, published+5)
	l := c.waitFor(t, "e", "run 1", func(l []record) bool {
		a := applied(l)
		return len(a) > 0 && a[len(a)-1].Seq == published+4 && a[len(a)-1].ts >= 1_000_000
	})
	// After the restart notice: run 1 from seq 0, in order, nothing of run 0.
	i := 0
	for l[i].Kind != Restarted {
		i++
	}
	checkContiguous(t, l[i+1:], 0, published+5)
	for _, r := range applied(l[i+1:]) {
		if r.ts < 1_000_000 {
			t.Fatalf("run 0 batch applied after the restart: %v", r.Notification)
		}
	}
}

// A subscriber that restarts resumes from the sequence number it had reached.
func TestLoopbackSubscriberRestart(t *testing.T) {
	p := testPublisher(t, PublisherConfig{})
	c := newCollector()
	s1 := testSubscriber(t, c)
	if err := s1.Add(Endpoint{Engine: "e", Pub: p.Endpoint(), Replay: p.ReplayEndpoint()}); err != nil {
		t.Fatal(err)
	}
	next := goLive(t, p, c, "e", 0)
	publishMarks(t, p, 0, next, next+10)
	c.waitFor(t, "e", "first part", func(l []record) bool {
		a := applied(l)
		return len(a) > 0 && a[len(a)-1].Seq == next+9
	})
	st, ok := s1.Remove("e")
	if !ok || st.NextSeq != next+10 {
		t.Fatalf("status %+v", st)
	}
	_ = s1.Close()
	publishMarks(t, p, 0, next+10, next+30) // while no one listens
	c2 := newCollector()
	s2 := testSubscriber(t, c2)
	if err := s2.Add(Endpoint{Engine: "e", Pub: p.Endpoint(), Replay: p.ReplayEndpoint(), NextSeq: Some(st.NextSeq)}); err != nil {
		t.Fatal(err)
	}
	l := c2.waitFor(t, "e", "the missed part", func(l []record) bool {
		a := applied(l)
		return len(a) > 0 && a[len(a)-1].Seq == next+29
	})
	if a := applied(l); a[0].Seq != next+10 || !a[0].Replayed {
		t.Fatalf("resumed at %v", a[0].Notification)
	}
	checkContiguous(t, l, next+10, next+30)
	if countKind(l, GapLost)+countKind(l, Restarted) != 0 {
		t.Fatalf("log:\n%s", dump(l))
	}
}

// Data-parallel ranks: a rank-2 publisher offsets its ports like vLLM and a
// subscriber finds it with Endpoint.ForRank.
func TestLoopbackDataParallelRank(t *testing.T) {
	p, base := rankPublisher(t)
	if want := fmt.Sprintf("tcp://127.0.0.1:%d", base+2); p.Endpoint() != want {
		t.Fatalf("endpoint %s, want %s", p.Endpoint(), want)
	}
	ep, err := Endpoint{Engine: "pod", Pub: fmt.Sprintf("tcp://127.0.0.1:%d", base),
		Replay: fmt.Sprintf("tcp://127.0.0.1:%d", base+1000)}.ForRank(2)
	if err != nil || ep.Engine != "pod/dp2" {
		t.Fatalf("%+v %v", ep, err)
	}
	c := newCollector()
	s := testSubscriber(t, c)
	if err := s.Add(ep); err != nil {
		t.Fatal(err)
	}
	goLive(t, p, c, "pod/dp2", 0)
	// The publisher stamped its rank into batches that had none.
	s.Remove("pod/dp2")
	payloadRank(t, p)
}
