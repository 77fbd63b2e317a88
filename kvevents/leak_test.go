package kvevents

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// After a subscriber closes, none of its goroutines (ours or zmq4's) is left while
// the publisher still runs; after the publisher closes, none of its either, but
// zmq4's PUB writer, which zmq4 v0.17.0 never stops (one per PUB socket).
func TestNoGoroutineLeak(t *testing.T) {
	before := ourGoroutines()
	drop := map[uint64]bool{}
	p := testPublisher(t, PublisherConfig{SkipSend: func(s uint64) bool { return drop[s] }})
	withPub := ourGoroutines()
	func() {
		c := newCollector()
		s := testSubscriber(t, c)
		for e := range 3 {
			if err := s.Add(Endpoint{Engine: fmt.Sprint(e), Pub: p.Endpoint(), Replay: p.ReplayEndpoint()}); err != nil {
				t.Fatal(err)
			}
		}
		next := goLive(t, p, c, "0", 0)
		drop[next+3] = true
		publishMarks(t, p, 0, next, next+20)
		c.waitFor(t, "2", "all", func(l []record) bool {
			a := applied(l)
			return len(a) > 0 && a[len(a)-1].Seq == next+19
		})
		// An engine whose publisher never answers: dialing and a stuck replay.
		if err := s.Add(Endpoint{Engine: "dead", Pub: "tcp://127.0.0.1:1", Replay: "tcp://127.0.0.1:1"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		s.Remove("1")
		// A slow handler closed in the middle of a flood: messages are queued
		// in every layer when the sockets close.
		var slowSeen sync.WaitGroup
		slowSeen.Add(1)
		var once sync.Once
		slow, err := NewSubscriber(context.Background(), SubscriberConfig{QueueSize: 2, Handler: func(n Notification) {
			if n.Kind == Applied && !n.Replayed {
				once.Do(slowSeen.Done)
			}
			time.Sleep(2 * time.Millisecond)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := slow.Add(Endpoint{Engine: "slow", Pub: p.Endpoint(), NoCatchUp: true}); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ { // until the slow subscriber is live
			publishMarks(t, p, 0, next+20+uint64(i), next+21+uint64(i))
			if waitTimeout(&slowSeen, 20*time.Millisecond) {
				next += uint64(i) + 1
				break
			}
		}
		publishMarks(t, p, 0, next+20, next+400)
		time.Sleep(20 * time.Millisecond)
		if err := slow.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	waitGoroutines(t, withPub, "subscriber closed")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, before, "publisher closed")
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func waitGoroutines(t *testing.T, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := ourGoroutines()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%s: %d goroutines, want %d:\n%s", when, n, want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ourGoroutines counts goroutines, leaving out zmq4's PUB writers (never stopped
// by zmq4 v0.17.0's Close: an upstream leak of one parked goroutine per PUB
// socket).
func ourGoroutines() int {
	buf := make([]byte, 1<<22)
	stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
	n := 0
	for _, s := range stacks {
		if !strings.Contains(s, "zmq4.(*pubMWriter).run") {
			n++
		}
	}
	return n
}
