package kvfeed_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/cluster/kvfeed"
	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/stretchr/testify/require"
)

// Loopback tests: real publishers and a real subscriber on 127.0.0.1, the adapter
// feeding a memory index and a Redis index (miniredis) side by side. Every check
// compares the indexes with what each engine holds, hash by hash.

const waitLimit = 10 * time.Second

// router is the subscriber side: one subscriber, two indexes each behind a feed and
// an adapter.
type router struct {
	sub      *kvevents.Subscriber
	indexes  map[string]cluster.Index
	feeds    map[string]*cluster.Feed
	adapters map[string]*kvfeed.Adapter

	mu      sync.Mutex
	notices map[string][]kvevents.Notification
}

func newRouter(t *testing.T) *router {
	t.Helper()
	r := &router{indexes: map[string]cluster.Index{}, feeds: map[string]*cluster.Feed{},
		adapters: map[string]*kvfeed.Adapter{}, notices: map[string][]kvevents.Notification{}}
	mem, err := cluster.NewMemoryIndex(cluster.MemoryConfig{Shards: 4})
	require.NoError(t, err)
	mr := miniredis.RunT(t)
	red, err := cluster.NewRedisIndex(cluster.RedisConfig{Addr: mr.Addr(), Prefix: "kvfeed:{t}:"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = red.Close() })
	r.indexes["memory"], r.indexes["redis"] = mem, red
	for name, x := range r.indexes {
		f, err := cluster.NewFeed(cluster.FeedConfig{Index: x, RetryInterval: 10 * time.Millisecond})
		require.NoError(t, err)
		t.Cleanup(func() { _ = f.Close() })
		a, err := kvfeed.New(kvfeed.Config{Feed: f})
		require.NoError(t, err)
		r.feeds[name], r.adapters[name] = f, a
	}
	r.sub, err = kvevents.NewSubscriber(context.Background(), kvevents.SubscriberConfig{Handler: r.handle,
		DialRetry: 20 * time.Millisecond, ReplayTimeout: 2 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.sub.Close() })
	return r
}

func (r *router) handle(n kvevents.Notification) {
	for _, a := range r.adapters {
		a.Handle(n)
	}
	if n.Kind != kvevents.Applied {
		r.mu.Lock()
		r.notices[n.Engine] = append(r.notices[n.Engine], n)
		r.mu.Unlock()
	}
}

func (r *router) follow(t *testing.T, k *kvEngine) {
	t.Helper()
	require.NoError(t, r.sub.Add(kvevents.Endpoint{Engine: k.name, Pub: k.pub.Endpoint(), Replay: k.pub.ReplayEndpoint()}))
}

func (r *router) count(engine string, kind kvevents.NoticeKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.notices[engine] {
		if x.Kind == kind {
			n++
		}
	}
	return n
}

// goLive publishes empty batches until the subscriber receives one live (its
// subscription is in place; batches before were caught up by replay).
func (r *router) goLive(t *testing.T, k *kvEngine) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		k.publish(t, &kvevents.Batch{})
		time.Sleep(30 * time.Millisecond)
		if st, ok := r.sub.Status(k.name); ok && st.NextSeq == k.sent && st.Stats.Live > 0 {
			return
		}
	}
	t.Fatalf("%s never went live", k.name)
}

// sync waits until the subscriber has handled every batch k published (and cond,
// if given, holds), then until both feeds have applied everything.
func (r *router) sync(t *testing.T, k *kvEngine, cond func(kvevents.EngineStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		st, _ := r.sub.Status(k.name)
		if st.NextSeq == k.sent && !st.Replaying && (cond == nil || cond(st)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: subscriber at %+v, published %d", k.name, st, k.sent)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for _, f := range r.feeds {
		require.NoError(t, f.Flush(ctx))
	}
}

// check compares each index with the engine's cache hash by hash: never a block it
// does not hold (or holds only on CPU, reported on GPU); when exact, every block it
// holds, tier included.
func (r *router) check(t *testing.T, k *kvEngine, exact bool) {
	t.Helper()
	ctx := context.Background()
	for name, x := range r.indexes {
		var dst []cluster.EngineMatch
		for _, h := range k.universe {
			var err error
			dst, err = x.Match(ctx, []uint64{h}, dst[:0])
			require.NoError(t, err)
			var got *cluster.EngineMatch
			for i := range dst {
				if dst[i].Engine == cluster.EngineID(k.name) {
					got = &dst[i]
				}
			}
			gpu, cpu := k.held[heldKey{h, false}] > 0, k.held[heldKey{h, true}] > 0
			if got != nil {
				require.True(t, gpu || cpu, "%s/%s: index holds %x, the engine does not", name, k.name, h)
				require.False(t, got.GPUBlocks == 1 && !gpu, "%s/%s: %x on GPU in the index only", name, k.name, h)
			}
			if exact {
				require.Equal(t, gpu || cpu, got != nil, "%s/%s: %x held gpu=%v cpu=%v", name, k.name, h, gpu, cpu)
				if got != nil {
					require.Equal(t, gpu, got.GPUBlocks == 1, "%s/%s: %x tier", name, k.name, h)
				}
			}
		}
	}
}

// Three engines: one clean (part of it published before the router joined), one
// whose messages the PUB socket drops (replayed), one whose publisher restarts. Both
// indexes end up holding exactly what each engine holds.
func TestLoopbackThreeEngines(t *testing.T) {
	r := newRouter(t)
	drop := map[uint64]bool{}
	var dropMu sync.Mutex
	clean, lossy, restarting := newKVEngine("e0", 1), newKVEngine("e1", 2), newKVEngine("e2", 3)
	clean.pub = startPublisher(t, kvevents.PublisherConfig{})
	lossy.pub = startPublisher(t, kvevents.PublisherConfig{SkipSend: func(seq uint64) bool {
		dropMu.Lock()
		defer dropMu.Unlock()
		return drop[seq]
	}})
	restarting.pub = startPublisher(t, kvevents.PublisherConfig{})
	engines := []*kvEngine{clean, lossy, restarting}
	for _, k := range engines {
		k.steps(t, 20) // before the router: caught up by replay
		r.follow(t, k)
	}
	for _, k := range engines {
		r.goLive(t, k)
	}
	dropMu.Lock()
	for _, d := range []uint64{3, 4, 9, 20, 21, 22, 40} {
		drop[lossy.sent+d] = true
	}
	dropMu.Unlock()
	for range 60 {
		for _, k := range engines {
			k.steps(t, 1)
		}
	}
	for _, k := range engines {
		r.sync(t, k, nil)
		r.check(t, k, true)
	}
	require.Positive(t, r.count("e1", kvevents.GapRecovered), "drops were replayed")

	// e2's publisher restarts on the same ports: sequence back to 0, cache empty.
	addr, raddr := restarting.pub.Endpoint(), restarting.pub.ReplayEndpoint()
	require.NoError(t, restarting.pub.Close())
	restarting.pub = startPublisher(t, kvevents.PublisherConfig{Endpoint: addr, ReplayEndpoint: raddr})
	clear(restarting.held)
	restarting.sent = 0
	deadline := time.Now().Add(waitLimit)
	for r.count("e2", kvevents.Restarted) == 0 {
		require.True(t, time.Now().Before(deadline), "the restart was never noticed")
		restarting.steps(t, 1)
		time.Sleep(20 * time.Millisecond)
	}
	restarting.steps(t, 10)
	r.sync(t, restarting, nil)
	r.check(t, restarting, true)
	for name, a := range r.adapters {
		s := a.Stats()
		require.Equal(t, uint64(1), s.Restarts, name)
		require.Zero(t, s.Losses, name)
		require.Zero(t, s.Refused, name)
		require.Positive(t, s.Clears, name)
		fs := r.feeds[name].Stats()
		require.Equal(t, uint64(1), fs.Restarts, name)
		require.Zero(t, fs.Errors, name)
	}
}

// Batches dropped beyond the publisher's replay buffer are lost: the engine is marked
// stale and resynced, so no block those batches removed is ever reported. Then
// either the engine re-announces its cache (the indexes are exact again) or the
// router drops it (nothing of it stays).
func TestLoopbackReplayBeyondBuffer(t *testing.T) {
	for _, recover := range []string{"reannounce", "drop"} {
		t.Run(recover, func(t *testing.T) {
			r := newRouter(t)
			var dropping bool
			var mu sync.Mutex
			k := newKVEngine("e", 7)
			k.pub = startPublisher(t, kvevents.PublisherConfig{BufferSteps: 5, SkipSend: func(uint64) bool {
				mu.Lock()
				defer mu.Unlock()
				return dropping
			}})
			r.follow(t, k)
			r.goLive(t, k)
			k.steps(t, 30)
			r.sync(t, k, nil)
			r.check(t, k, true)
			// The lost batches evict every block the index knows of.
			mu.Lock()
			dropping = true
			mu.Unlock()
			known := make([]heldKey, 0, len(k.held))
			for key := range k.held {
				known = append(known, key)
			}
			for _, key := range known {
				for k.held[key] > 0 {
					k.publish(t, &kvevents.Batch{Events: []kvevents.Event{{Type: kvevents.BlockRemoved,
						BlockHashes: []kvevents.BlockHash{kvevents.HashUint64(key.h)}, Medium: medium(key.cpu)}}})
					k.held[key]--
				}
				delete(k.held, key)
			}
			k.steps(t, 10) // at least 10 lost: more than the buffer keeps
			mu.Lock()
			dropping = false
			mu.Unlock()
			k.steps(t, 3)
			r.sync(t, k, func(st kvevents.EngineStatus) bool { return st.Stats.Lost > 0 })
			r.check(t, k, false)
			for name, x := range r.indexes {
				for _, key := range known {
					ms, err := x.Match(context.Background(), []uint64{key.h}, nil)
					require.NoError(t, err)
					for _, m := range ms {
						if m.Engine == "e" && k.held[heldKey{key.h, false}]+k.held[heldKey{key.h, true}] == 0 {
							t.Fatalf("%s: evicted block %x still reported", name, key.h)
						}
					}
				}
				s := r.feeds[name].Stats()
				require.Equal(t, uint64(1), s.Losses, name)
			}
			switch recover {
			case "reannounce":
				k.reannounce(t)
				k.steps(t, 5)
				r.sync(t, k, nil)
				r.check(t, k, true)
			case "drop":
				_, ok := r.sub.Remove("e")
				require.True(t, ok)
				for _, f := range r.feeds {
					require.NoError(t, f.Drop("e"))
					require.NoError(t, f.Flush(context.Background()))
				}
				clear(k.held)
				r.check(t, k, true)
				for name, x := range r.indexes {
					info, err := x.Engine(context.Background(), "e")
					require.NoError(t, err)
					require.Equal(t, cluster.EngineUnknown, info.State, name)
				}
			}
		})
	}
}

// Resume continues a subscriber from where a persistent index stands.
func TestResume(t *testing.T) {
	x, err := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	require.NoError(t, err)
	ctx := context.Background()
	ep := kvevents.Endpoint{Engine: "e", Pub: "tcp://127.0.0.1:1"}
	got, err := kvfeed.Resume(ctx, x, ep)
	require.NoError(t, err)
	require.False(t, got.NextSeq.Valid, "unknown engine: catch up from the start")
	_, err = x.Apply(ctx, cluster.Batch{Engine: "e", Seq: 41})
	require.NoError(t, err)
	got, err = kvfeed.Resume(ctx, x, ep)
	require.NoError(t, err)
	require.Equal(t, kvevents.Some[uint64](42), got.NextSeq)
	ep.NextSeq = kvevents.Some[uint64](7)
	got, err = kvfeed.Resume(ctx, x, ep)
	require.NoError(t, err)
	require.Equal(t, kvevents.Some[uint64](7), got.NextSeq, "an explicit resume point wins")
	require.NoError(t, x.MarkStale(ctx, "e"))
	ep.NextSeq = kvevents.Opt[uint64]{}
	got, err = kvfeed.Resume(ctx, x, ep)
	require.NoError(t, err)
	require.False(t, got.NextSeq.Valid, "a stale engine is caught up from the start")
	_, err = kvfeed.Resume(ctx, x, kvevents.Endpoint{Engine: "bad|name"})
	require.ErrorIs(t, err, cluster.ErrInvalidArgument)
}
