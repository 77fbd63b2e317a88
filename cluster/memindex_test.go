package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func newMem(t *testing.T, cfg MemoryConfig) *MemoryIndex {
	t.Helper()
	x, err := NewMemoryIndex(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, x.CheckInvariants()) })
	return x
}

func TestMemoryConfig(t *testing.T) {
	for _, cfg := range []MemoryConfig{
		{MaxKeys: -1}, {Shards: 3}, {Shards: -4}, {MaxEngines: 1<<16 + 1}, {MaxBatchHashes: -1}, {SweepPerApply: -2},
	} {
		_, err := NewMemoryIndex(cfg)
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", cfg)
	}
	x, err := NewMemoryIndex(MemoryConfig{})
	require.NoError(t, err)
	require.Equal(t, DefaultMemoryConfig(), x.cfg)
}

// The least recently stored key goes first; a key matched since gets a second chance.
func TestMemoryLRUEviction(t *testing.T) {
	x := newMem(t, MemoryConfig{MaxKeys: 4, Shards: 1})
	mustApply(t, x, st("a", 0, gpu(1, 2, 3, 4)), Applied)
	require.Len(t, matchMap(t, x, 1), 1) // 1 is referenced
	mustApply(t, x, st("a", 1, gpu(5)), Applied)
	require.Empty(t, matchMap(t, x, 2), "2 was the least recently used unreferenced key")
	require.Len(t, matchMap(t, x, 1), 1)
	mustApply(t, x, st("a", 2, gpu(3)), Applied) // storing again refreshes 3
	mustApply(t, x, st("b", 0, gpu(6)), Applied) // evicts 4 (1 and 3 were refreshed, 1's chance used)
	require.Empty(t, matchMap(t, x, 4))
	for _, h := range []uint64{1, 3, 5, 6} {
		require.Len(t, matchMap(t, x, h), 1, "hash %d", h)
	}
	s, err := x.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(2), s.Evictions)
	require.Equal(t, int64(4), s.Keys)
	require.NoError(t, x.CheckInvariants())
}

// Entries of a dropped engine stop matching at once and are reclaimed by later
// applies, a bounded number of node slots per call.
func TestMemorySweepReclaims(t *testing.T) {
	x := newMem(t, MemoryConfig{Shards: 2, SweepPerApply: 8})
	ctx := context.Background()
	hs := make([]uint64, 100)
	for i := range hs {
		hs[i] = uint64(1000 + i)
	}
	mustApply(t, x, st("a", 0, gpu(hs...)), Applied)
	mustApply(t, x, st("b", 0, gpu(hs[:10]...)), Applied)
	require.NoError(t, x.DropEngine(ctx, "a"))
	require.Equal(t, map[EngineID]EngineMatch{"b": em("b", 10, 10)}, matchMap(t, x, hs...))
	s, _ := x.Stats(ctx)
	require.Equal(t, int64(100), s.Keys, "not yet swept")
	for seq := uint64(1); seq <= 20; seq++ {
		mustApply(t, x, st("b", seq), Applied)
		require.NoError(t, x.CheckInvariants())
	}
	s, _ = x.Stats(ctx)
	require.Equal(t, int64(10), s.Keys)
	require.Equal(t, int64(10), s.Entries)
	require.Zero(t, x.dirty.Load(), "no dead entry left")
}

func TestMemoryEngineSlots(t *testing.T) {
	x := newMem(t, MemoryConfig{MaxEngines: 2})
	ctx := context.Background()
	mustApply(t, x, st("a", 0, gpu(1)), Applied)
	mustApply(t, x, st("b", 0, gpu(1)), Applied)
	_, err := x.Apply(ctx, st("c", 0, gpu(1)))
	require.ErrorIs(t, err, ErrTooManyEngines)
	require.ErrorIs(t, x.MarkStale(ctx, "c"), ErrTooManyEngines)
	require.NoError(t, x.DropEngine(ctx, "a"))
	mustApply(t, x, st("c", 0, gpu(2)), Applied) // c takes a's slot
	require.Equal(t, map[EngineID]EngineMatch{"b": em("b", 1, 1)}, matchMap(t, x, 1), "a's entries are not c's")
	require.Equal(t, map[EngineID]EngineMatch{"c": em("c", 1, 1)}, matchMap(t, x, 2))
	mustApply(t, x, st("c", 1, gpu(1)), Applied)
	require.Equal(t, map[EngineID]EngineMatch{"b": em("b", 1, 1), "c": em("c", 1, 1)}, matchMap(t, x, 1))
}

func TestMemoryClosed(t *testing.T) {
	x := newMem(t, MemoryConfig{})
	require.NoError(t, x.Close())
	_, err := x.Apply(context.Background(), st("a", 0))
	require.ErrorIs(t, err, ErrClosed)
	_, err = x.Match(context.Background(), []uint64{1}, nil)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, x.DropEngine(context.Background(), "a"), ErrClosed)
}

// Concurrent writers (one per engine, with clears, drops and resyncs) and readers;
// under -race this checks the locking, and the final state must equal the model's
// since each engine's operations are sequential.
func TestMemoryConcurrent(t *testing.T) {
	x := newMem(t, MemoryConfig{Shards: 4, MaxKeys: 1 << 12, SweepPerApply: 4})
	ctx := context.Background()
	const engines, steps = 4, 400
	models := make([]*model, engines)
	var wg sync.WaitGroup
	for w := range engines {
		models[w] = newModel()
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			id := EngineID(fmt.Sprintf("e%d", w))
			m := models[w]
			for i := range steps {
				switch {
				case i%97 == 96:
					m.drop(id)
					if err := x.DropEngine(ctx, id); err != nil {
						panic(err)
					}
				case i%53 == 52:
					m.resync(id, 0)
					if err := x.Resync(ctx, id, 0); err != nil {
						panic(err)
					}
				default:
					b := st(id, m.info(id).Next, gpu(uint64(i%32), uint64(i%32+1)))
					if i%31 == 30 {
						b.Events = append(b.Events, cleared())
					}
					if i%5 == 4 {
						b.Events = append(b.Events, rmGPU(uint64(i%32)))
					}
					want := m.apply(b)
					if got, err := x.Apply(ctx, b); err != nil || got != want {
						panic(fmt.Sprintf("apply %+v: got %v %v want %v", b, got, err, want))
					}
				}
			}
		}(w)
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Add(1)
		go func(r int) {
			defer readers.Done()
			var dst []EngineMatch
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				dst, err = x.Match(ctx, []uint64{uint64((i + r) % 32), uint64((i+r)%32 + 1)}, dst[:0])
				if err != nil {
					panic(err)
				}
			}
		}(r)
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	require.NoError(t, x.CheckInvariants())
	for h := range uint64(33) {
		want := map[EngineID]EngineMatch{}
		for _, m := range models {
			for id, em := range m.match([]uint64{h, h + 1}) {
				want[id] = em
			}
		}
		require.Equal(t, want, matchMap(t, x, h, h+1), "hash %d", h)
	}
}
