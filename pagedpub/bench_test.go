package pagedpub

import (
	"context"
	"testing"
	"time"

	"github.com/pagedkv/pagedkv/bench"
	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
)

// The cost of publishing a busy engine's events, per decode step of 256 sequences,
// beside the Manager's own step cost measured in the same run:
//
//	go test -run '^$' -bench 'DecodeStep256' -benchtime 2000x -count 3 ./pagedpub
//
// BenchmarkDecodeStep256 is paged's (bench.ManagerDecodeStep: DecodeStep and
// MarkComputedBatch, events off, no evictions). The others run decodeFixture, a
// full cache where each step stores about 16 blocks and evicts about as many:
// step-ns/op is the Manager's work (DecodeStep, MarkComputedBatch, restarts),
// publish-ns/op is Bridge.Step (TakeEvents, conversion, msgpack encoding and the
// ZeroMQ send), events/op the events published per step.

func BenchmarkDecodeStep256(b *testing.B) { bench.ManagerDecodeStep(256)(b) }

// BenchmarkFixtureStep256NoEvents is the fixture's step with events off.
func BenchmarkFixtureStep256NoEvents(b *testing.B) {
	f := newDecodeFixtureEvents(b, 256, nil, false)
	b.ReportAllocs()
	for b.Loop() {
		f.decodeStep(b)
	}
}

// BenchmarkFixtureStep256Events is the fixture's step with events on, drained
// by TakeEvents after each step but not published.
func BenchmarkFixtureStep256Events(b *testing.B) {
	f := newDecodeFixture(b, 256, nil)
	b.ReportAllocs()
	var n int
	var evs []paged.Event
	for b.Loop() {
		f.decodeStep(b)
		evs, _ = f.m.TakeEvents(evs[:0])
		n += len(evs)
	}
	b.ReportMetric(float64(n)/float64(b.N), "events/op")
}

func benchPublish(b *testing.B, h prefix.Hasher, opt ConvertOptions, subscribed bool) {
	f := newDecodeFixture(b, 256, h)
	pub, err := kvevents.NewPublisher(kvevents.PublisherConfig{Endpoint: "tcp://127.0.0.1:0", Mode: kvevents.Bind,
		ReplayEndpoint: "tcp://127.0.0.1:0", Linger: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	if subscribed {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sub, err := kvevents.NewSubscriber(ctx, kvevents.SubscriberConfig{Handler: func(kvevents.Notification) {}})
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		if err := sub.Add(kvevents.Endpoint{Engine: "e", Pub: pub.Endpoint(), NoCatchUp: true}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // let the SUB socket connect
	}
	bridge, err := New(f.m, Config{Sink: pub, ConvertOptions: opt})
	if err != nil {
		b.Fatal(err)
	}
	for range 50 { // warm up buffers
		f.decodeStep(b)
		if _, err := bridge.Step(); err != nil {
			b.Fatal(err)
		}
	}
	var step, publish time.Duration
	events0 := bridge.Stats().Events
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		f.decodeStep(b)
		t1 := time.Now()
		if _, err := bridge.Step(); err != nil {
			b.Fatal(err)
		}
		step += t1.Sub(t0)
		publish += time.Since(t1)
	}
	b.ReportMetric(float64(step.Nanoseconds())/float64(b.N), "step-ns/op")
	b.ReportMetric(float64(publish.Nanoseconds())/float64(b.N), "publish-ns/op")
	b.ReportMetric(float64(bridge.Stats().Events-events0)/float64(b.N), "events/op")
}

func BenchmarkPublishDecodeStep256(b *testing.B) { benchPublish(b, nil, ConvertOptions{}, false) }

func BenchmarkPublishDecodeStep256Subscribed(b *testing.B) {
	benchPublish(b, nil, ConvertOptions{}, true)
}

// BenchmarkPublishDecodeStep256VLLMRaw hashes with vLLM's sha256_cbor and sends raw
// digests (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0).
func BenchmarkPublishDecodeStep256VLLMRaw(b *testing.B) {
	benchPublish(b, prefix.VLLM{PythonHashSeed: "0"}, ConvertOptions{RawHashes: true}, false)
}

// BenchmarkBridgeStep256NopSink is Bridge.Step without the wire: TakeEvents and
// the conversion only (publish-ns/op), the adapter's own share.
func BenchmarkBridgeStep256NopSink(b *testing.B) {
	f := newDecodeFixture(b, 256, nil)
	bridge, err := New(f.m, Config{Sink: &nopSink{}})
	if err != nil {
		b.Fatal(err)
	}
	var publish time.Duration
	b.ReportAllocs()
	for b.Loop() {
		f.decodeStep(b)
		t0 := time.Now()
		if _, err := bridge.Step(); err != nil {
			b.Fatal(err)
		}
		publish += time.Since(t0)
	}
	b.ReportMetric(float64(publish.Nanoseconds())/float64(b.N), "publish-ns/op")
}
