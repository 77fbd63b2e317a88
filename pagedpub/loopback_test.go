package pagedpub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// End to end over ZeroMQ on 127.0.0.1: an engine (a Manager driven by a scheduler)
// publishes through a Bridge and a kvevents.Publisher; a kvevents.Subscriber
// rebuilds the engine's cached blocks per medium; after every step the rebuilt view
// equals the Manager's own (CachedBlocks) — also across lost messages (replayed),
// a publisher restart (Restarted, then the cache re-announced), a subscriber
// restart (resumed from the sequence number it had reached) and overflows of the
// Manager's event queue (resynced). Bounded: every wait ends within patience, and
// the number of steps that may go unchecked is bounded.

// patience is how long a step waits for the subscriber to apply its batch before
// the driver moves on (the batch may have been lost on the wire).
const patience = time.Second

// follower is the subscriber's side: a router's index of one engine.
type follower struct {
	mu        sync.Mutex
	v         view
	next      uint64 // the sequence number after the last one applied (or lost)
	restarts  int
	recovered int
	lost      int
	stored    map[uint64]bool // every key a BlockStored carried
	changed   chan struct{}
}

func newFollower() *follower {
	return &follower{v: view{}, stored: map[uint64]bool{}, changed: make(chan struct{}, 1)}
}

func (f *follower) handle(n kvevents.Notification) {
	f.mu.Lock()
	switch n.Kind {
	case kvevents.Applied:
		f.v.apply(n.Batch)
		for _, e := range n.Batch.Events {
			if e.Type == kvevents.BlockStored {
				for _, h := range e.BlockHashes {
					f.stored[h.Key()] = true
				}
			}
		}
		f.next = n.Seq + 1
	case kvevents.Restarted:
		f.restarts++
		clear(f.v) // the engine's cache is gone with its old publisher
		f.next = 0 // the new run's batches follow, from 0 (replayed if missed)
	case kvevents.GapLost:
		f.lost++
		clear(f.v)
		f.next = n.To
	case kvevents.GapRecovered:
		f.recovered++
	}
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// caughtUp waits up to d until the follower has seen restarts publisher restarts
// and applied the batch numbered seq of the current run.
func (f *follower) caughtUp(restarts int, seq uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		f.mu.Lock()
		ok := f.restarts == restarts && f.next > seq
		f.mu.Unlock()
		if ok || time.Now().After(deadline) {
			return ok
		}
		select {
		case <-f.changed:
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// check compares the follower's view with the Manager's own.
func (f *follower) check(t *testing.T, m *paged.Manager, what string, sub *kvevents.Subscriber) {
	t.Helper()
	want := truth(m)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.v.equal(want) {
		t.Fatalf("%s: subscriber's view (%d GPU keys) differs from the Manager's (%d); %+v", what, len(f.v["GPU"]), len(want["GPU"]), sub.Statuses())
	}
}

// loop is one end-to-end run's sockets and state.
type loop struct {
	t         *testing.T
	pubEP     string
	replayEP  string
	pub       *kvevents.Publisher
	sub       *kvevents.Subscriber
	f         *follower
	skip      func(seq uint64) bool
	pubRuns   int // publisher restarts done
	unchecked bool
}

func (l *loop) startPublisher() {
	cfg := kvevents.PublisherConfig{Endpoint: l.pubEP, ReplayEndpoint: l.replayEP, Mode: kvevents.Bind,
		Linger: -1, SkipSend: l.skip, Topic: "kv@engine-0"}
	p, err := kvevents.NewPublisher(cfg)
	require.NoError(l.t, err)
	l.pub, l.pubEP, l.replayEP = p, p.Endpoint(), p.ReplayEndpoint()
}

func (l *loop) startSubscriber(resume kvevents.Opt[uint64]) {
	s, err := kvevents.NewSubscriber(context.Background(), kvevents.SubscriberConfig{Handler: l.f.handle,
		DialRetry: 20 * time.Millisecond, ReplayTimeout: 2 * time.Second})
	require.NoError(l.t, err)
	require.NoError(l.t, s.Add(kvevents.Endpoint{Engine: "engine-0", Pub: l.pubEP, Replay: l.replayEP,
		Topic: "kv@", NextSeq: resume}))
	l.sub = s
}

type faults struct {
	dropEvery      uint64 // SkipSend every n-th sequence number (0: none)
	pubRestartAt   int    // step of a publisher restart (0: none)
	subRestartAt   int    // step at which the subscriber stops, for subOffSteps steps
	subOffSteps    int
	expectOverflow bool
}

// runLoop drives the engine to completion, checking the subscriber's view after
// every step whose batch can have been applied.
func runLoop(t *testing.T, m *paged.Manager, e *engine, opt ConvertOptions, fl faults) *follower {
	l := &loop{t: t, pubEP: "tcp://127.0.0.1:0", replayEP: "tcp://127.0.0.1:0", f: newFollower()}
	if fl.dropEvery > 0 {
		l.skip = func(seq uint64) bool { return seq%fl.dropEvery == fl.dropEvery-1 }
	}
	l.startPublisher()
	defer func() { _ = l.pub.Close() }()
	l.startSubscriber(kvevents.Opt[uint64]{})
	defer func() { _ = l.sub.Close() }() // Close is idempotent
	bridge, err := New(m, Config{Sink: l.pub, ConvertOptions: opt})
	require.NoError(t, err)

	subOff, subResumed := false, false
	checked, unchecked := 0, 0
	var lastSeq uint64
	published := false
	for step := 1; !e.finished(); step++ {
		require.Less(t, step, 20000, "the workload does not finish")
		e.step()
		if step == fl.pubRestartAt {
			require.NoError(t, l.pub.Close())
			l.startPublisher() // same endpoints, sequence numbers from 0
			require.NoError(t, bridge.SetSink(l.pub))
			l.pubRuns++
			published = false
		}
		if step == fl.subRestartAt {
			require.NoError(t, l.sub.Close()) // the index (view, next) is kept
			subOff = true
		}
		if subOff && step == fl.subRestartAt+fl.subOffSteps {
			l.startSubscriber(kvevents.Some(l.f.next)) // resume where it stopped
			subOff = false
			subResumed = true
		}
		r, err := bridge.Step()
		require.NoError(t, err)
		require.NoError(t, bridge.conv.checkInvariants())
		if opt.RawHashes { // the remembered digests are exactly the cached blocks'
			want := map[uint64]int32{}
			for _, c := range m.CachedBlocks(nil) {
				want[uint64(c.Hash)]++
			}
			require.Len(t, bridge.conv.digests, len(want))
			for h, e := range bridge.conv.digests {
				require.Equal(t, want[h], e.n)
			}
		}
		if r.Published {
			lastSeq, published = r.Seq, true
		}
		if subOff || !published || l.skip != nil && l.skip(lastSeq) {
			continue // nothing to check yet: a lost batch is noticed at the next one
		}
		if !l.f.caughtUp(l.pubRuns, lastSeq, patience) {
			// The batch was lost on the wire (ZeroMQ drops messages for a
			// subscriber that is not connected yet, e.g. after a restart of either
			// side) or the publisher restarted and the subscriber has not seen a
			// batch of the new run yet: it notices from the next live batch and
			// replays. Keep stepping, as an engine does, and check from then on.
			unchecked++
			require.Less(t, unchecked, 50, "the subscriber does not catch up")
			continue
		}
		l.f.check(t, m, fmt.Sprintf("step %d", step), l.sub)
		checked++
	}
	// The last batches may have been lost on the wire: further (resync) batches
	// reveal it, as an engine's next steps would.
	caught := false
	for range 20 {
		bridge.Resync()
		r, err := bridge.Step()
		require.NoError(t, err)
		require.True(t, r.Published)
		if caught = l.f.caughtUp(l.pubRuns, r.Seq, patience); caught {
			break
		}
	}
	require.True(t, caught, "the subscriber caught up at the end")
	l.f.check(t, m, "end", l.sub)

	require.NoError(t, l.sub.Close()) // no handler runs from here on
	st := bridge.Stats()
	require.Zero(t, l.f.lost, "nothing was lost for good")
	if fl.dropEvery > 0 {
		require.Positive(t, l.f.recovered, "dropped messages were replayed")
	}
	if fl.pubRestartAt > 0 {
		require.Equal(t, 1, l.f.restarts)
	}
	require.Equal(t, fl.subRestartAt > 0, subResumed, "the subscriber restart happened")
	if fl.expectOverflow {
		require.Positive(t, st.Dropped, "the Manager's queue overflowed")
	}
	require.Positive(t, st.Resyncs)
	require.Equal(t, len(e.reqs), e.done+e.dropped)
	t.Logf("%d steps published %d batches, %d events; %d resyncs, %d events dropped by the queue; subscriber: %d gaps recovered, %d restarts; view checked after %d steps (%d left unchecked while a lost batch or a restart went unnoticed)",
		st.Steps, st.Batches, st.Events, st.Resyncs, st.Dropped, l.f.recovered, l.f.restarts, checked, unchecked)
	require.Greater(t, checked, int(st.Steps)/2, "most steps were checked")
	return l.f
}

func TestLoopbackSyntheticWithFaults(t *testing.T) {
	m, err := paged.New(paged.Config{NumBlocks: 160, BlockSize: 16, DisableWatermark: true,
		Events: paged.EventOptions{Enabled: true, QueueSize: 8}})
	require.NoError(t, err)
	e := newEngine(t, m, synthetic(120, 1), 256)
	runLoop(t, m, e, ConvertOptions{}, faults{dropEvery: 9, pubRestartAt: 60, subRestartAt: 120, subOffSteps: 15, expectOverflow: true})
	require.NoError(t, m.CheckInvariants())
}

// With vLLM's hasher the subscriber sees vLLM's own block ids: the golden ids of a
// known prompt appear in the events, here sent as raw digests.
func TestLoopbackVLLMHasherGoldenIDs(t *testing.T) {
	golden := goldenHashes(t)["seed0_bs16_plain"]
	require.Len(t, golden.Blocks, 3)
	m, err := paged.New(paged.Config{NumBlocks: 160, BlockSize: 16, DisableWatermark: true,
		Hasher: prefix.VLLM{Algo: prefix.SHA256CBOR, PythonHashSeed: "0"}, Events: paged.EventOptions{Enabled: true}})
	require.NoError(t, err)
	reqs := synthetic(40, 2)
	reqs = append(reqs[:20], append([]request{{prompt: golden.Inputs.Prompt, out: 4}}, reqs[20:]...)...)
	e := newEngine(t, m, reqs, 512)
	f := runLoop(t, m, e, ConvertOptions{RawHashes: true}, faults{dropEvery: 5})
	for _, b := range golden.Blocks {
		require.True(t, f.stored[b.Uint64.Dec], "golden block id %d was published", b.Uint64.Dec)
	}
}

// The first requests of Mooncake's conversation trace (long prompts sharing
// prefixes), with every fault.
func TestLoopbackMooncakeTrace(t *testing.T) {
	reqs := mooncake(t, 40, 8192, 24)
	m, err := paged.New(paged.Config{NumBlocks: 1024, BlockSize: 16, Events: paged.EventOptions{Enabled: true, QueueSize: 48}})
	require.NoError(t, err)
	e := newEngine(t, m, reqs, 2048)
	runLoop(t, m, e, ConvertOptions{}, faults{dropEvery: 11, pubRestartAt: 40, subRestartAt: 80, subOffSteps: 10, expectOverflow: true})
	require.NoError(t, m.CheckInvariants())
}
