package cluster

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// backend makes a fresh, empty index for one test.
type backend struct {
	name string
	make func(t *testing.T) Index
	// modelOps bounds the randomized model test (real network backends are slower).
	modelOps int
}

// backends lists every Index implementation the contract suite runs over: memory,
// miniredis always, and a real redis-server when one is on PATH.
func backends(t *testing.T) []backend {
	bs := []backend{
		{"memory", func(t *testing.T) Index {
			x, err := NewMemoryIndex(MemoryConfig{Shards: 4})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, x.CheckInvariants()) })
			return x
		}, 3000},
		{"miniredis", func(t *testing.T) Index { return newMiniRedisIndex(t) }, 600},
	}
	if realRedisAvailable() {
		bs = append(bs, backend{"redis", func(t *testing.T) Index { return newRealRedisIndex(t) }, 1500})
	} else {
		t.Log("redis-server not on PATH: the contract suite runs without a real Redis")
	}
	return bs
}

func st(e EngineID, seq uint64, evs ...Event) Batch { return Batch{Engine: e, Seq: seq, Events: evs} }
func gpu(hs ...uint64) Event                        { return Event{Kind: Stored, Hashes: hs, Tier: TierGPU} }
func cpu(hs ...uint64) Event                        { return Event{Kind: Stored, Hashes: hs, Tier: TierCPU} }
func rmGPU(hs ...uint64) Event                      { return Event{Kind: Removed, Hashes: hs, Tier: TierGPU} }
func rmCPU(hs ...uint64) Event                      { return Event{Kind: Removed, Hashes: hs, Tier: TierCPU} }
func cleared() Event                                { return Event{Kind: Cleared} }

func mustApply(t *testing.T, x Index, b Batch, want Outcome) ApplyResult {
	t.Helper()
	r, err := x.Apply(context.Background(), b)
	require.NoError(t, err)
	require.Equal(t, want, r.Outcome, "batch %s/%d", b.Engine, b.Seq)
	return r
}

func matchMap(t *testing.T, x Index, hs ...uint64) map[EngineID]EngineMatch {
	t.Helper()
	ms, err := x.Match(context.Background(), hs, nil)
	require.NoError(t, err)
	m, ok := asMap(ms)
	require.True(t, ok, "an engine appears twice in %v", ms)
	return m
}

func em(e EngineID, blocks, gpuBlocks int) EngineMatch {
	return EngineMatch{Engine: e, Blocks: blocks, GPUBlocks: gpuBlocks}
}

func TestContract(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Run("StoreMatchTiers", func(t *testing.T) { contractStoreMatch(t, be.make(t)) })
			t.Run("RefCountsAndTiers", func(t *testing.T) { contractRefCounts(t, be.make(t)) })
			t.Run("Cleared", func(t *testing.T) { contractCleared(t, be.make(t)) })
			t.Run("SequenceGapReplay", func(t *testing.T) { contractSequence(t, be.make(t)) })
			t.Run("StaleResyncDrop", func(t *testing.T) { contractStaleResyncDrop(t, be.make(t)) })
			t.Run("BadInputsChangeNothing", func(t *testing.T) { contractBadInputs(t, be.make(t)) })
			t.Run("ApplyBatches", func(t *testing.T) { contractApplyBatches(t, be.make(t)) })
			t.Run("Stats", func(t *testing.T) { contractStats(t, be.make(t)) })
			t.Run("Model", func(t *testing.T) { contractModel(t, be.make(t), be.modelOps) })
		})
	}
}

func contractStoreMatch(t *testing.T, x Index) {
	mustApply(t, x, st("a", 0, gpu(1, 2, 3)), Applied)
	mustApply(t, x, st("b", 0, cpu(1, 2), gpu(1)), Applied)
	mustApply(t, x, st("c", 0, gpu(2, 3)), Applied) // no block 0: never a prefix
	require.Equal(t, map[EngineID]EngineMatch{"a": em("a", 3, 3), "b": em("b", 2, 1)}, matchMap(t, x, 1, 2, 3, 4))
	require.Equal(t, map[EngineID]EngineMatch{"c": em("c", 2, 2), "a": em("a", 2, 2), "b": em("b", 1, 0)}, matchMap(t, x, 2, 3))
	require.Empty(t, matchMap(t, x, 9, 1, 2))
	require.Empty(t, matchMap(t, x))
	// Holding a later block does not continue a broken run.
	mustApply(t, x, st("b", 1, cpu(4)), Applied)
	require.Equal(t, em("b", 2, 1), matchMap(t, x, 1, 2, 3, 4)["b"])
}

func contractRefCounts(t *testing.T, x Index) {
	mustApply(t, x, st("a", 0, gpu(5), gpu(5)), Applied) // two blocks of one hash
	mustApply(t, x, st("a", 1, rmGPU(5)), Applied)
	require.Equal(t, em("a", 1, 1), matchMap(t, x, 5)["a"], "one block of hash 5 remains")
	mustApply(t, x, st("a", 2, rmGPU(5), rmGPU(5), rmCPU(77)), Applied) // extra and unknown removes are no-ops
	require.Empty(t, matchMap(t, x, 5))

	mustApply(t, x, st("a", 3, gpu(6), cpu(6)), Applied)
	mustApply(t, x, st("a", 4, rmGPU(6)), Applied)
	require.Equal(t, em("a", 1, 0), matchMap(t, x, 6)["a"], "the CPU copy remains")
	mustApply(t, x, st("a", 5, rmCPU(6)), Applied)
	require.Empty(t, matchMap(t, x, 6))

	// Saturation: 300 stores then one remove drops the entry (a miss, never stale).
	hs := make([]uint64, 300)
	for i := range hs {
		hs[i] = 8
	}
	mustApply(t, x, st("a", 6, gpu(hs...)), Applied)
	require.Equal(t, em("a", 1, 1), matchMap(t, x, 8)["a"])
	mustApply(t, x, st("a", 7, rmGPU(8)), Applied)
	require.Empty(t, matchMap(t, x, 8))
}

func contractCleared(t *testing.T, x Index) {
	mustApply(t, x, st("a", 0, gpu(1, 2), cpu(1, 2)), Applied)
	mustApply(t, x, st("b", 0, gpu(1, 2)), Applied)
	mustApply(t, x, st("a", 1, cleared(), gpu(1)), Applied) // stores after the clear count
	require.Equal(t, map[EngineID]EngineMatch{"a": em("a", 1, 1), "b": em("b", 2, 2)}, matchMap(t, x, 1, 2))
	mustApply(t, x, st("a", 2, cleared()), Applied)
	require.Equal(t, map[EngineID]EngineMatch{"b": em("b", 2, 2)}, matchMap(t, x, 1, 2))
	// A remove after a clear does not touch a re-stored block's new count.
	mustApply(t, x, st("a", 3, gpu(1)), Applied)
	mustApply(t, x, st("a", 4, rmGPU(1)), Applied)
	require.NotContains(t, matchMap(t, x, 1), EngineID("a"))
}

func contractSequence(t *testing.T, x Index) {
	ctx := context.Background()
	r := mustApply(t, x, st("a", 7, gpu(1)), Applied) // a fresh engine starts anywhere
	require.Equal(t, uint64(8), r.Next)
	r = mustApply(t, x, st("a", 7, gpu(1)), Duplicate)
	require.Equal(t, uint64(8), r.Next)
	mustApply(t, x, st("a", 8, rmGPU(1)), Applied)
	require.Empty(t, matchMap(t, x, 1), "the duplicate did not add a second block")

	// Reordered: 10 arrives before 9.
	r = mustApply(t, x, st("a", 10, gpu(3)), Gap)
	require.Equal(t, uint64(9), r.Next)
	info, err := x.Engine(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, EngineInfo{State: EngineBehind, Next: 9, GapEnd: 10}, info)
	mustApply(t, x, st("a", 11, gpu(4)), Gap)
	mustApply(t, x, st("a", 9, gpu(1, 2)), Applied)
	require.Empty(t, matchMap(t, x, 1), "still behind: entries hidden")
	mustApply(t, x, st("a", 9, gpu(1, 2)), Duplicate)
	mustApply(t, x, st("a", 10, gpu(3)), Applied) // the replay
	require.Empty(t, matchMap(t, x, 1))
	mustApply(t, x, st("a", 11, gpu(4)), Applied)
	require.Equal(t, em("a", 4, 4), matchMap(t, x, 1, 2, 3, 4)["a"])
	info, err = x.Engine(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, EngineInfo{State: EngineLive, Next: 12}, info)
	info, err = x.Engine(ctx, "never-seen")
	require.NoError(t, err)
	require.Equal(t, EngineInfo{}, info)
}

func contractStaleResyncDrop(t *testing.T, x Index) {
	ctx := context.Background()
	mustApply(t, x, st("a", 0, gpu(1, 2)), Applied)
	mustApply(t, x, st("b", 0, gpu(1)), Applied)
	require.NoError(t, x.MarkStale(ctx, "a"))
	require.Equal(t, map[EngineID]EngineMatch{"b": em("b", 1, 1)}, matchMap(t, x, 1, 2))
	mustApply(t, x, st("a", 1, gpu(3)), Refused)
	// Replay can continue from where the index stands: entries come back.
	require.NoError(t, x.Resync(ctx, "a", 1))
	require.Equal(t, em("a", 2, 2), matchMap(t, x, 1, 2)["a"])
	mustApply(t, x, st("a", 1, gpu(3)), Applied)

	// Resync elsewhere (publisher restarted at 0): entries are discarded.
	require.NoError(t, x.MarkStale(ctx, "a"))
	require.NoError(t, x.Resync(ctx, "a", 0))
	require.NotContains(t, matchMap(t, x, 1), EngineID("a"))
	info, err := x.Engine(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, EngineInfo{State: EngineLive, Next: 0}, info)
	mustApply(t, x, st("a", 5, gpu(1)), Gap) // after Resync the next batch must be the one announced
	mustApply(t, x, st("a", 0, gpu(2)), Applied)

	// Drop: forget everything; old entries never come back.
	require.NoError(t, x.DropEngine(ctx, "a"))
	require.NoError(t, x.DropEngine(ctx, "a"))
	require.NoError(t, x.DropEngine(ctx, "zzz"))
	info, err = x.Engine(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, EngineInfo{}, info)
	mustApply(t, x, st("a", 42, gpu(9)), Applied)
	require.NotContains(t, matchMap(t, x, 1, 2), EngineID("a"))
	require.NotContains(t, matchMap(t, x, 2), EngineID("a"))
	require.Equal(t, em("a", 1, 1), matchMap(t, x, 9)["a"])
	require.Equal(t, em("b", 1, 1), matchMap(t, x, 1)["b"])

	// Stale and resync of engines never seen.
	require.NoError(t, x.MarkStale(ctx, "c"))
	mustApply(t, x, st("c", 0, gpu(1)), Refused)
	require.NoError(t, x.Resync(ctx, "d", 3))
	mustApply(t, x, st("d", 3, gpu(1)), Applied)
}

func contractBadInputs(t *testing.T, x Index) {
	ctx := context.Background()
	mustApply(t, x, st("a", 0, gpu(1, 2)), Applied)
	before := matchMap(t, x, 1, 2)
	bad := []Batch{
		st("", 1, gpu(3)),
		st("a|b", 1, gpu(3)),
		st("a b", 1, gpu(3)),
		st(EngineID(strings.Repeat("x", MaxEngineIDLen+1)), 1, gpu(3)),
		st("a", MaxSeq+1, gpu(3)),
		st("a", 1, gpu(3), Event{Kind: Stored, Hashes: []uint64{4}, Tier: 7}),
		st("a", 1, gpu(3), Event{Kind: 0}),
		st("a", 1, gpu(3), Event{Kind: 99, Hashes: []uint64{3}}),
		st("a", 1, gpu(3), Event{Kind: Cleared, Hashes: []uint64{1}}),
		st("a", 1, rmGPU(1), Event{Kind: Stored, Hashes: make([]uint64, DefaultMaxBatchHashes)}),
	}
	for i, b := range bad {
		_, err := x.Apply(ctx, b)
		require.ErrorIs(t, err, ErrInvalidBatch, "bad batch %d", i)
	}
	require.Equal(t, before, matchMap(t, x, 1, 2))
	info, err := x.Engine(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, EngineInfo{State: EngineLive, Next: 1}, info)

	for _, id := range []EngineID{"", "a|b", "\x00"} {
		require.ErrorIs(t, x.DropEngine(ctx, id), ErrInvalidArgument)
		require.ErrorIs(t, x.MarkStale(ctx, id), ErrInvalidArgument)
		require.ErrorIs(t, x.Resync(ctx, id, 0), ErrInvalidArgument)
		_, err := x.Engine(ctx, id)
		require.ErrorIs(t, err, ErrInvalidArgument)
	}
	require.ErrorIs(t, x.Resync(ctx, "a", MaxSeq+1), ErrInvalidArgument)
	_, err = x.Match(ctx, make([]uint64, MaxMatchBlocks+1), nil)
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Equal(t, before, matchMap(t, x, 1, 2))
	stats, err := x.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), stats.Applied)
}

func contractApplyBatches(t *testing.T, x Index) {
	ctx := context.Background()
	bs := []Batch{st("a", 0, gpu(1)), st("b", 0, gpu(1)), st("a", 1, gpu(2)), st("a", 1, gpu(2)), st("b", 2, gpu(2))}
	rs, err := x.ApplyBatches(ctx, bs, nil)
	require.NoError(t, err)
	require.Equal(t, []ApplyResult{{Applied, 1}, {Applied, 1}, {Applied, 2}, {Duplicate, 2}, {Gap, 1}}, rs)
	require.Equal(t, map[EngineID]EngineMatch{"a": em("a", 2, 2)}, matchMap(t, x, 1, 2))

	_, err = x.ApplyBatches(ctx, []Batch{st("a", 2, gpu(3)), st("", 0)}, nil)
	require.ErrorIs(t, err, ErrInvalidBatch)
	info, err := x.Engine(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.Next, "no batch of a failed call is applied")
}

func contractStats(t *testing.T, x Index) {
	ctx := context.Background()
	mustApply(t, x, st("a", 0, gpu(1, 2), cpu(1)), Applied)
	mustApply(t, x, st("a", 0), Duplicate)
	mustApply(t, x, st("a", 2, gpu(3)), Gap)
	mustApply(t, x, st("a", 1, rmGPU(2)), Applied)
	mustApply(t, x, st("a", 2, gpu(3)), Applied)
	mustApply(t, x, st("b", 0, gpu(1), cleared()), Applied)
	mustApply(t, x, st("c", 0, gpu(1)), Applied)
	require.NoError(t, x.MarkStale(ctx, "c"))
	mustApply(t, x, st("c", 1), Refused)
	require.NoError(t, x.MarkStale(ctx, "d"))
	require.NoError(t, x.Resync(ctx, "d", 0))
	require.NoError(t, x.MarkStale(ctx, "e"))
	mustApply(t, x, st("f", 0), Applied)
	mustApply(t, x, st("f", 3), Gap)
	require.NoError(t, x.DropEngine(ctx, "b"))
	s, err := x.Stats(ctx)
	require.NoError(t, err)
	require.Positive(t, s.Keys)
	s.Keys = 0
	want := IndexStats{
		Entries: s.Entries, Live: 2, Behind: 1, Stale: 2,
		Applied: 6, Duplicates: 1, Gaps: 2, Refused: 1, Replayed: 2,
		Events: 7, BlocksStored: 6, BlocksRemoved: 1, Clears: 1,
		Drops: 2, Resyncs: 1, MarkedStale: 3,
	}
	require.Equal(t, want, s)
}

// contractModel applies random operations to the index and to the reference model
// and compares every engine's state and random matches after each step.
func contractModel(t *testing.T, x Index, ops int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	m := newModel()
	engines := []EngineID{"e0", "e1", "e2", "e3"}
	hash := func() uint64 { return uint64(rng.IntN(24)) }
	for op := range ops {
		id := engines[rng.IntN(len(engines))]
		switch p := rng.IntN(100); {
		case p < 80:
			next := m.info(id).Next
			seq := next
			switch q := rng.IntN(10); {
			case q == 0 && next > 0:
				seq = next - 1 - uint64(rng.IntN(int(min(next, 3))))
			case q == 1:
				seq = next + 1 + uint64(rng.IntN(2))
			}
			b := Batch{Engine: id, Seq: seq}
			for range 1 + rng.IntN(3) {
				ev := Event{Kind: EventKind(1 + rng.IntN(2)), Tier: Tier(rng.IntN(2))}
				if rng.IntN(30) == 0 {
					ev.Kind = Cleared
				} else {
					for range 1 + rng.IntN(4) {
						ev.Hashes = append(ev.Hashes, hash())
					}
				}
				b.Events = append(b.Events, ev)
			}
			want := m.apply(b)
			got, err := x.Apply(ctx, b)
			require.NoError(t, err, "op %d", op)
			require.Equal(t, want, got, "op %d: %+v", op, b)
		case p < 84:
			m.markStale(id)
			require.NoError(t, x.MarkStale(ctx, id))
		case p < 90:
			next := m.info(id).Next
			if rng.IntN(2) == 0 {
				next = uint64(rng.IntN(5))
			}
			m.resync(id, next)
			require.NoError(t, x.Resync(ctx, id, next))
		default:
			m.drop(id)
			require.NoError(t, x.DropEngine(ctx, id))
		}
		for _, id := range engines {
			info, err := x.Engine(ctx, id)
			require.NoError(t, err)
			require.Equal(t, m.info(id), info, "op %d engine %s", op, id)
		}
		for range 3 {
			q := make([]uint64, 1+rng.IntN(6))
			for i := range q {
				q[i] = hash()
			}
			require.Equal(t, m.match(q), matchMap(t, x, q...), "op %d query %v", op, q)
		}
	}
	if mi, ok := x.(*MemoryIndex); ok {
		require.NoError(t, mi.CheckInvariants())
	}
}
