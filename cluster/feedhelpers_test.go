package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// Helpers of the feed tests: an index that fails on demand, and engines that know
// what they hold.

// outageIndex fails every call with ErrUnavailable while down; failAt > 0 makes the
// next ApplyBatches apply that many batches and then fail (Redis may have run part
// of a pipeline).
type outageIndex struct {
	Index
	down   atomic.Bool
	failAt atomic.Int64
	calls  atomic.Int64
}

func (f *outageIndex) err() error {
	f.calls.Add(1)
	if f.down.Load() {
		return fmt.Errorf("%w: test outage", ErrUnavailable)
	}
	return nil
}

func (f *outageIndex) ApplyBatches(ctx context.Context, bs []Batch, dst []ApplyResult) ([]ApplyResult, error) {
	if err := f.err(); err != nil {
		return dst, err
	}
	if k := int(f.failAt.Swap(0)); k > 0 && k < len(bs) {
		dst, err := f.Index.ApplyBatches(ctx, bs[:k], dst)
		if err != nil {
			return dst, err
		}
		return dst[:len(dst)-1], fmt.Errorf("%w: connection lost mid-pipeline", ErrUnavailable)
	}
	return f.Index.ApplyBatches(ctx, bs, dst)
}

func (f *outageIndex) Apply(ctx context.Context, b Batch) (ApplyResult, error) {
	if err := f.err(); err != nil {
		return ApplyResult{}, err
	}
	return f.Index.Apply(ctx, b)
}

func (f *outageIndex) Resync(ctx context.Context, e EngineID, next uint64) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Index.Resync(ctx, e, next)
}

func (f *outageIndex) MarkStale(ctx context.Context, e EngineID) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Index.MarkStale(ctx, e)
}

func (f *outageIndex) DropEngine(ctx context.Context, e EngineID) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Index.DropEngine(ctx, e)
}

func (f *outageIndex) Engine(ctx context.Context, e EngineID) (EngineInfo, error) {
	if err := f.err(); err != nil {
		return EngineInfo{}, err
	}
	return f.Index.Engine(ctx, e)
}

// truthEngine is an engine's cache as the engine itself knows it, producing the
// batches that describe its changes.
type truthEngine struct {
	id       EngineID
	seq      uint64
	held     map[tierHash]int
	universe []uint64 // every hash it ever stored
	rng      *rand.Rand
	gen      uint64
}

type tierHash struct {
	h uint64
	t Tier
}

func newTruth(id EngineID, seed uint64) *truthEngine {
	return &truthEngine{id: id, held: map[tierHash]int{}, rng: rand.New(rand.NewPCG(seed, 7)), gen: seed << 32}
}

// step returns the engine's next batch and applies it to the truth: stores of new
// and already held hashes, removes of held ones, rarely a clear.
func (te *truthEngine) step() Batch {
	b := Batch{Engine: te.id, Seq: te.seq}
	te.seq++
	for range 1 + te.rng.IntN(3) {
		switch r := te.rng.IntN(20); {
		case r == 0:
			b.Events = append(b.Events, Event{Kind: Cleared})
			clear(te.held)
		case r < 10:
			ev := Event{Kind: Stored, Tier: Tier(te.rng.IntN(2))}
			for range 1 + te.rng.IntN(4) {
				var h uint64
				if len(te.universe) > 0 && te.rng.IntN(3) == 0 {
					h = te.universe[te.rng.IntN(len(te.universe))]
				} else {
					te.gen++
					h = te.gen * 0x9E3779B97F4A7C15
					te.universe = append(te.universe, h)
				}
				ev.Hashes = append(ev.Hashes, h)
				te.held[tierHash{h, ev.Tier}]++
			}
			b.Events = append(b.Events, ev)
		default:
			for k := range te.held { // remove one held block
				b.Events = append(b.Events, Event{Kind: Removed, Hashes: []uint64{k.h}, Tier: k.t})
				if te.held[k]--; te.held[k] == 0 {
					delete(te.held, k)
				}
				break
			}
		}
	}
	return b
}

// restart empties the engine and numbers batches from 0 again.
func (te *truthEngine) restart() {
	clear(te.held)
	te.seq = 0
}

// checkTruth checks, hash by hash, that the index never reports a block the engine
// does not hold (tier included) and, when exact, that it reports every one it holds.
func checkTruth(t *testing.T, x Index, te *truthEngine, exact bool) {
	t.Helper()
	ctx := context.Background()
	var dst []EngineMatch
	for _, h := range te.universe {
		var err error
		dst, err = x.Match(ctx, []uint64{h}, dst[:0])
		require.NoError(t, err)
		var got *EngineMatch
		for i := range dst {
			if dst[i].Engine == te.id {
				got = &dst[i]
			}
		}
		gpu, cpu := te.held[tierHash{h, TierGPU}] > 0, te.held[tierHash{h, TierCPU}] > 0
		if got != nil {
			require.True(t, gpu || cpu, "%s: index holds %x, the engine does not", te.id, h)
			require.False(t, got.GPUBlocks == 1 && !gpu, "%s: index holds %x on GPU, the engine only on CPU", te.id, h)
		}
		if exact {
			require.Equal(t, gpu || cpu, got != nil, "%s: hash %x held %v/%v", te.id, h, gpu, cpu)
			if got != nil {
				require.Equal(t, gpu, got.GPUBlocks == 1, "%s: hash %x GPU", te.id, h)
			}
		}
	}
}

func manualFeed(t *testing.T, x Index, mod func(*FeedConfig)) *Feed {
	t.Helper()
	cfg := FeedConfig{Index: x, Manual: true}
	if mod != nil {
		mod(&cfg)
	}
	f, err := NewFeed(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.Close()) })
	return f
}
