package kvevents

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]PublisherConfig{
		"negative buffer": {BufferSteps: -1},
		"negative rank":   {DataParallelRank: -1},
		"bad mode":        {Mode: 7},
		"ipc with rank":   {Endpoint: "ipc:///tmp/x", DataParallelRank: 1},
	} {
		if _, err := NewPublisher(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewPublisher(PublisherConfig{Endpoint: "tcp://256.0.0.1:1", Mode: Bind}); !errors.Is(err, ErrConfig) {
		t.Errorf("unbindable: %v", err)
	}
	if _, err := NewSubscriber(context.Background(), SubscriberConfig{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no handler: %v", err)
	}
	// A queue too large to allocate is a configuration error, not a panic in Add.
	if _, err := NewSubscriber(context.Background(), SubscriberConfig{Handler: func(Notification) {}, QueueSize: 1 << 40}); !errors.Is(err, ErrConfig) {
		t.Errorf("huge queue: %v", err)
	}
	s, err := NewSubscriber(context.Background(), SubscriberConfig{Handler: func(Notification) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(Endpoint{Engine: "x"}); !errors.Is(err, ErrConfig) {
		t.Errorf("no Pub: %v", err)
	}
	_ = s.Close()
	if err := s.Add(Endpoint{Engine: "x", Pub: "tcp://127.0.0.1:1"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	p := testPublisher(t, PublisherConfig{})
	_ = p.Close()
	if _, err := p.Publish(&Batch{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
}

// With an endpoint that has no "*", the PUB socket connects, as vLLM's does, to a
// subscriber that binds (one socket collecting many engines, told apart by topic).
func TestPublisherConnects(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := zmq4.NewSub(ctx)
	defer sub.Close()
	if err := sub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		t.Fatal(err)
	}
	if err := sub.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	p, err := NewPublisher(PublisherConfig{Endpoint: "tcp://" + sub.Addr().String(), Topic: "kv@pod-b", Linger: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got := make(chan zmq4.Msg, 1)
	go func() {
		if m, err := sub.Recv(); err == nil {
			got <- m
		}
		close(got)
	}()
	deadline := time.After(waitLimit)
	for {
		if _, err := p.Publish(markBatch(0, 1)); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if len(m.Frames) != 3 || string(m.Frames[0]) != "kv@pod-b" {
				t.Fatalf("frames %q", m.Frames)
			}
			return
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("nothing reached the bound subscriber")
		}
	}
}
