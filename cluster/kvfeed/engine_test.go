package kvfeed_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/stretchr/testify/require"
)

// kvEngine is an engine's cache as the engine knows it; step publishes its next
// change as vLLM would.
type kvEngine struct {
	name     string
	held     map[heldKey]int
	universe []uint64
	rng      *rand.Rand
	gen      uint64
	pub      *kvevents.Publisher
	sent     uint64 // batches published in the current run
}

type heldKey struct {
	h   uint64
	cpu bool
}

func newKVEngine(name string, seed uint64) *kvEngine {
	return &kvEngine{name: name, held: map[heldKey]int{}, rng: rand.New(rand.NewPCG(seed, 5)), gen: seed << 40}
}

func medium(cpu bool) kvevents.Opt[string] {
	if cpu {
		return kvevents.Some(kvevents.MediumCPU)
	}
	return kvevents.Some(kvevents.MediumGPU)
}

// wireHash sends h as vLLM's integer or, at random, as a raw digest whose last 8
// bytes are h.
func (k *kvEngine) wireHash(h uint64) kvevents.BlockHash {
	if k.rng.IntN(2) == 0 {
		return kvevents.HashUint64(h)
	}
	d := make([]byte, 32)
	binary.BigEndian.PutUint64(d[24:], h)
	d[0] = byte(k.rng.IntN(256))
	return kvevents.HashBytes(d)
}

// nextBatch is the engine's next step: blocks stored (new or again), one evicted,
// rarely the cache reset.
func (k *kvEngine) nextBatch() *kvevents.Batch {
	b := &kvevents.Batch{TS: float64(k.sent)}
	for range 1 + k.rng.IntN(3) {
		switch r := k.rng.IntN(25); {
		case r == 0:
			b.Events = append(b.Events, kvevents.Event{Type: kvevents.AllBlocksCleared})
			clear(k.held)
		case r < 13:
			cpu := k.rng.IntN(4) == 0
			ev := kvevents.Event{Type: kvevents.BlockStored, BlockSize: 4, Medium: medium(cpu)}
			for range 1 + k.rng.IntN(4) {
				var h uint64
				if len(k.universe) > 0 && k.rng.IntN(4) == 0 {
					h = k.universe[k.rng.IntN(len(k.universe))]
				} else {
					k.gen++
					h = k.gen * 0x9E3779B97F4A7C15
					k.universe = append(k.universe, h)
				}
				ev.BlockHashes = append(ev.BlockHashes, k.wireHash(h))
				ev.TokenIDs = append(ev.TokenIDs, 1, 2, 3, 4)
				k.held[heldKey{h, cpu}]++
			}
			if k.rng.IntN(2) == 0 {
				ev.ParentBlockHash = kvevents.Some(kvevents.HashUint64(k.gen))
			}
			b.Events = append(b.Events, ev)
		default:
			for key := range k.held {
				b.Events = append(b.Events, kvevents.Event{Type: kvevents.BlockRemoved,
					BlockHashes: []kvevents.BlockHash{k.wireHash(key.h)}, Medium: medium(key.cpu)})
				if k.held[key]--; k.held[key] == 0 {
					delete(k.held, key)
				}
				break
			}
		}
	}
	return b
}

func (k *kvEngine) publish(t *testing.T, b *kvevents.Batch) {
	t.Helper()
	seq, err := k.pub.Publish(b)
	require.NoError(t, err)
	require.Equal(t, k.sent, seq)
	k.sent++
}

func (k *kvEngine) steps(t *testing.T, n int) {
	t.Helper()
	for range n {
		k.publish(t, k.nextBatch())
	}
}

// reannounce publishes the whole cache after a reset: the index that lost track
// of the engine gets it back exactly.
func (k *kvEngine) reannounce(t *testing.T) {
	b := &kvevents.Batch{Events: []kvevents.Event{{Type: kvevents.AllBlocksCleared}}}
	for key, n := range k.held {
		ev := kvevents.Event{Type: kvevents.BlockStored, BlockSize: 4, Medium: medium(key.cpu)}
		for range n {
			ev.BlockHashes = append(ev.BlockHashes, kvevents.HashUint64(key.h))
			ev.TokenIDs = append(ev.TokenIDs, 1, 2, 3, 4)
		}
		b.Events = append(b.Events, ev)
	}
	k.publish(t, b)
}

func startPublisher(t *testing.T, cfg kvevents.PublisherConfig) *kvevents.Publisher {
	t.Helper()
	if cfg.Endpoint == "" {
		cfg.Endpoint = "tcp://127.0.0.1:0"
	}
	if cfg.ReplayEndpoint == "" {
		cfg.ReplayEndpoint = "tcp://127.0.0.1:0"
	}
	cfg.Mode, cfg.Linger = kvevents.Bind, -1
	p, err := kvevents.NewPublisher(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}
