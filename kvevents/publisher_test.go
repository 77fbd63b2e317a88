package kvevents

import (
	"context"
	"errors"
	"testing"
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
