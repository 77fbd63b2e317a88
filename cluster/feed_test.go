package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFeedConfig(t *testing.T) {
	_, err := NewFeed(FeedConfig{})
	require.ErrorIs(t, err, ErrInvalidConfig)
	x := newMem(t, MemoryConfig{})
	for _, c := range []FeedConfig{{Index: x, MaxQueuedBatches: -1}, {Index: x, Timeout: -1}, {Index: x, RetryInterval: -1}} {
		_, err := NewFeed(c)
		require.ErrorIs(t, err, ErrInvalidConfig)
	}
	f := manualFeed(t, x, nil)
	require.ErrorIs(t, f.Apply(Batch{Engine: "bad|id"}), ErrInvalidBatch)
	require.ErrorIs(t, f.Apply(st("a", 0, Event{Kind: 9})), ErrInvalidBatch)
	require.ErrorIs(t, f.Lost("a", 5, 4), ErrInvalidArgument)
	require.ErrorIs(t, f.Restart("", 0), ErrInvalidArgument)
	require.ErrorIs(t, f.Restart("a", MaxSeq+1), ErrInvalidArgument)
	require.Zero(t, f.Stats().QueuedOps, "failed calls queue nothing")
}

// Batches, restarts, losses and drops reach the index in each engine's order,
// grouped into few calls.
func TestFeedAppliesInOrder(t *testing.T) {
	for _, manual := range []bool{true, false} {
		t.Run(fmt.Sprintf("manual=%v", manual), func(t *testing.T) {
			x := newMem(t, MemoryConfig{})
			f, err := NewFeed(FeedConfig{Index: x, Manual: manual})
			require.NoError(t, err)
			defer f.Close()
			ctx := context.Background()
			engines := []*truthEngine{newTruth("a", 1), newTruth("b", 2), newTruth("c", 3)}
			for range 200 {
				for _, te := range engines {
					require.NoError(t, f.Apply(te.step()))
				}
			}
			require.NoError(t, f.Flush(ctx))
			for _, te := range engines {
				checkTruth(t, x, te, true)
			}
			s := f.Stats()
			require.Equal(t, uint64(600), s.Applied)
			require.Less(t, s.Calls, uint64(600), "batches are grouped")
			require.Zero(t, s.QueuedOps)

			// a restarts (its cache is empty), b loses batches 200..201, c leaves.
			a, b := engines[0], engines[1]
			a.restart()
			require.NoError(t, f.Restart("a", 0))
			b.step()
			b.step()
			b.held = map[tierHash]int{} // what the index can know after the loss: nothing
			require.NoError(t, f.Lost("b", 200, 202))
			require.NoError(t, f.Drop("c"))
			for range 50 {
				require.NoError(t, f.Apply(a.step()))
				require.NoError(t, f.Apply(b.step()))
			}
			require.NoError(t, f.Flush(ctx))
			checkTruth(t, x, a, true)
			checkTruth(t, x, b, false)
			info, err := x.Engine(ctx, "c")
			require.NoError(t, err)
			require.Equal(t, EngineUnknown, info.State)
			info, err = x.Engine(ctx, "b")
			require.NoError(t, err)
			require.Equal(t, EngineInfo{State: EngineLive, Next: 252}, info)
			s = f.Stats()
			require.Equal(t, uint64(1), s.Restarts)
			require.Equal(t, uint64(1), s.Losses)
			require.Equal(t, uint64(1), s.Drops)
			require.NoError(t, x.CheckInvariants())
		})
	}
}

// A loss the index has already covered (another writer applied the batches) keeps
// the engine's entries.
func TestFeedLossCovered(t *testing.T) {
	x := newMem(t, MemoryConfig{})
	ctx := context.Background()
	mustApply(t, x, st("a", 0, gpu(1)), Applied)
	mustApply(t, x, st("a", 1, gpu(2)), Applied)
	f := manualFeed(t, x, nil)
	require.NoError(t, f.Lost("a", 0, 2))
	require.NoError(t, f.Apply(st("a", 2, gpu(3))))
	require.NoError(t, f.Flush(ctx))
	require.Equal(t, em("a", 3, 3), matchMap(t, x, 1, 2, 3)["a"])
	require.Equal(t, uint64(1), f.Stats().LossesCovered)
}

// An engine whose queue overflows is resynced at the newest batch: nothing from the
// discarded batches survives, and later batches apply.
func TestFeedOverflowResyncs(t *testing.T) {
	x := newMem(t, MemoryConfig{})
	ctx := context.Background()
	f := manualFeed(t, x, func(c *FeedConfig) { c.MaxQueuedBatches = 4 })
	require.NoError(t, f.Apply(st("a", 0, gpu(1, 2))))
	require.NoError(t, f.Flush(ctx))
	for seq := uint64(1); seq <= 6; seq++ { // 5 and 6 overflow: queue discarded at 5
		require.NoError(t, f.Apply(st("a", seq, gpu(10+seq))))
	}
	require.NoError(t, f.Apply(st("b", 0, gpu(1))))
	s := f.Stats()
	require.Equal(t, uint64(1), s.Overflows)
	require.Equal(t, uint64(4), s.DiscardedBatches)
	require.Equal(t, 4, s.QueuedOps, "a: lost + 5 + 6; b: 0")
	require.NoError(t, f.Flush(ctx))
	require.NotContains(t, matchMap(t, x, 1), EngineID("a"), "a's entries from before the hole are gone")
	require.Equal(t, em("a", 1, 1), matchMap(t, x, 15)["a"])
	require.Equal(t, em("a", 1, 1), matchMap(t, x, 16)["a"])
	require.Empty(t, matchMap(t, x, 11))
	require.Equal(t, em("b", 1, 1), matchMap(t, x, 1)["b"])
	// A hash bound works the same way, and a batch larger than it is refused.
	g := manualFeed(t, newMem(t, MemoryConfig{}), func(c *FeedConfig) { c.MaxQueuedHashes = 3 })
	require.ErrorIs(t, g.Apply(st("a", 0, gpu(1, 2, 3, 4))), ErrInvalidBatch)
	require.NoError(t, g.Apply(st("a", 0, gpu(1, 2))))
	require.NoError(t, g.Apply(st("a", 1, gpu(3, 4))))
	require.Equal(t, uint64(1), g.Stats().Overflows)
}

// While the index is down updates wait and are retried; a call that failed midway
// is applied again (duplicates are ignored). Flush says why it cannot finish.
func TestFeedRetriesUnavailableIndex(t *testing.T) {
	mem := newMem(t, MemoryConfig{})
	x := &outageIndex{Index: mem}
	var errs atomic.Int64
	f, err := NewFeed(FeedConfig{Index: x, RetryInterval: 5 * time.Millisecond, OnError: func(error) { errs.Add(1) }})
	require.NoError(t, err)
	defer f.Close()
	te := newTruth("a", 9)
	for range 20 {
		require.NoError(t, f.Apply(te.step()))
	}
	require.NoError(t, f.Flush(context.Background()))
	x.down.Store(true)
	for range 20 {
		require.NoError(t, f.Apply(te.step()))
	}
	require.NoError(t, f.Restart("b", 0))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = f.Flush(ctx)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "test outage")
	s := f.Stats()
	require.True(t, s.Unavailable)
	require.Equal(t, 21, s.QueuedOps)
	require.Positive(t, errs.Load())
	x.failAt.Store(7)
	x.down.Store(false)
	require.NoError(t, f.Flush(context.Background()))
	checkTruth(t, mem, te, true)
	s = f.Stats()
	require.False(t, s.Unavailable)
	require.Empty(t, s.LastError)
	require.Equal(t, uint64(39), s.Applied)
	require.Equal(t, uint64(1), s.Duplicates, "the batch whose result was lost with the connection is applied again")
}

// Gap and Refused answers (the index lost its place: another writer resynced it, or
// it lost state) resync the engine at the batch and apply it.
func TestFeedGapAndRefusedResync(t *testing.T) {
	x := newMem(t, MemoryConfig{})
	ctx := context.Background()
	f := manualFeed(t, x, nil)
	mustApply(t, x, st("a", 0, gpu(1)), Applied)
	require.NoError(t, f.Apply(st("a", 5, gpu(2))))
	require.NoError(t, x.MarkStale(ctx, "b"))
	require.NoError(t, f.Apply(st("b", 0, gpu(3))))
	require.NoError(t, f.Apply(st("b", 1, gpu(4))))
	require.NoError(t, f.Flush(ctx))
	require.Empty(t, matchMap(t, x, 1), "a's entries from before the gap are gone")
	require.Equal(t, em("a", 1, 1), matchMap(t, x, 2)["a"])
	require.Equal(t, em("b", 2, 2), matchMap(t, x, 3, 4)["b"])
	require.Equal(t, uint64(2), f.Stats().Resyncs)
}

// An engine the index refuses (too many engines) loses its batches; the others go on.
func TestFeedRejectedEngine(t *testing.T) {
	x := newMem(t, MemoryConfig{MaxEngines: 1})
	ctx := context.Background()
	f := manualFeed(t, x, nil)
	require.NoError(t, f.Apply(st("a", 0, gpu(1))))
	require.NoError(t, f.Apply(st("b", 0, gpu(2))))
	require.NoError(t, f.Apply(st("a", 1, gpu(3))))
	require.NoError(t, f.Apply(st("b", 1, gpu(4))))
	require.NoError(t, f.Flush(ctx))
	require.Equal(t, em("a", 1, 1), matchMap(t, x, 1)["a"])
	require.Equal(t, em("a", 1, 1), matchMap(t, x, 3)["a"])
	require.Empty(t, matchMap(t, x, 2))
	require.Empty(t, matchMap(t, x, 4))
	s := f.Stats()
	require.Equal(t, uint64(2), s.Rejected)
	require.Zero(t, s.QueuedOps)
}

func TestFeedClose(t *testing.T) {
	x := newMem(t, MemoryConfig{})
	f, err := NewFeed(FeedConfig{Index: x, Manual: true})
	require.NoError(t, err)
	require.NoError(t, f.Apply(st("a", 0, gpu(1))))
	require.NoError(t, f.Close())
	require.NoError(t, f.Close())
	require.ErrorIs(t, f.Apply(st("a", 1, gpu(1))), ErrClosed)
	require.ErrorIs(t, f.Drop("a"), ErrClosed)
	require.ErrorIs(t, f.Flush(context.Background()), ErrClosed)
	require.Equal(t, uint64(1), f.Stats().DiscardedBatches)
	require.Empty(t, matchMap(t, x, 1))
}

// Random streams of several engines with restarts, losses and index outages (calls
// failing whole or midway): the index never holds a block an engine does not, and
// holds exactly what an engine holds unless the engine lost batches since its last
// restart.
func TestFeedRandomAgainstTruth(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			inner := b.make(t)
			x := &outageIndex{Index: inner}
			f := manualFeed(t, x, func(c *FeedConfig) { c.MaxApplyBatches = 8 })
			rng := rand.New(rand.NewPCG(11, 12))
			engines := []*truthEngine{newTruth("e0", 21), newTruth("e1", 22), newTruth("e2", 23)}
			exact := []bool{true, true, true}
			ctx := context.Background()
			steps := b.modelOps / 3
			for step := range steps {
				i := rng.IntN(len(engines))
				te := engines[i]
				switch r := rng.IntN(40); {
				case r == 0:
					te.restart()
					require.NoError(t, f.Restart(te.id, 0))
					exact[i] = true
				case r == 1: // a batch lost on the way
					from := te.seq
					te.step()
					require.NoError(t, f.Lost(te.id, from, te.seq))
					exact[i] = false
				case r == 2:
					x.down.Store(!x.down.Load())
				case r == 3:
					x.failAt.Store(int64(1 + rng.IntN(4)))
				default:
					require.NoError(t, f.Apply(te.step()))
				}
				if step%10 == 9 || step == steps-1 {
					if step == steps-1 {
						x.down.Store(false)
						x.failAt.Store(0)
					}
					if err := f.Flush(ctx); err != nil {
						require.ErrorIs(t, err, ErrUnavailable)
						continue
					}
					for k, te := range engines {
						checkTruth(t, inner, te, exact[k])
					}
				}
			}
			s := f.Stats()
			require.Zero(t, s.QueuedOps)
			require.Zero(t, s.Overflows)
			require.Positive(t, s.Errors)
			if m, ok := inner.(*MemoryIndex); ok {
				require.NoError(t, m.CheckInvariants())
			}
		})
	}
}
