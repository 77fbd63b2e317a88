package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// simEngine is a paged.Manager driven by a random serving workload: prompts from a
// few shared prefixes (with and without a LoRA adapter) are admitted, computed,
// decoded a little and freed; the small pool evicts; rarely the cache is reset.
type simEngine struct {
	m        *paged.Manager
	rng      *rand.Rand
	live     []paged.SeqID
	resets   int
	hits     int // probes that found a cached prefix
	hostHits int // ... partly in the host tier
}

func newSimEngine(t testing.TB, blocks, queue int, seed uint64) *simEngine {
	return newSimEngineHost(t, blocks, 0, queue, seed)
}

// newSimEngineHost is newSimEngine with a host prefix cache of host blocks
// (write-back: evicted device blocks move there, reported on medium CPU).
func newSimEngineHost(t testing.TB, blocks, host, queue int, seed uint64) *simEngine {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = blocks, 4
	cfg.Events = paged.EventOptions{Enabled: true, QueueSize: queue}
	if host > 0 {
		cfg.HostBlocks, cfg.HostCache.Policy = host, paged.WriteBack
	}
	m, err := paged.New(cfg)
	require.NoError(t, err)
	return &simEngine{m: m, rng: rand.New(rand.NewPCG(seed, 99))}
}

func (s *simEngine) prompt() ([]int32, paged.SeqOptions) {
	base := int32(10_000 * s.rng.IntN(4))
	p := seqTokens(4*s.rng.IntN(8), base)
	p = append(p, seqTokens(1+s.rng.IntN(9), int32(1_000_000+s.rng.IntN(40)))...)
	var o paged.SeqOptions
	if s.rng.IntN(4) == 0 {
		o.Adapter = "lora"
	}
	return p, o
}

func (s *simEngine) step(t testing.TB) {
	m := s.m
	switch r := s.rng.IntN(10); {
	case r < 4 || len(s.live) == 0:
		p, o := s.prompt()
		id, err := m.Add(p, o)
		require.NoError(t, err)
		adm, err := m.Admit(id, len(p), 0, nil)
		require.NoError(t, err)
		if adm.Admission != paged.AdmitNow {
			require.NoError(t, m.Free(id))
			return
		}
		require.NoError(t, m.MarkComputed(id, adm.N))
		s.live = append(s.live, id)
	case r < 7:
		id := s.live[s.rng.IntN(len(s.live))]
		slots := make([]int64, 1)
		if _, err := m.DecodeStep([]paged.SeqID{id}, []int32{int32(s.rng.IntN(50))}, 0, slots, nil); err == nil {
			require.NoError(t, m.MarkComputed(id, 1))
		}
	case r < 9 || s.rng.IntN(4) > 0:
		k := s.rng.IntN(len(s.live))
		require.NoError(t, m.Free(s.live[k]))
		s.live = append(s.live[:k], s.live[k+1:]...)
	default: // everything ends; the cache is reset
		for _, id := range s.live {
			require.NoError(t, m.Free(id))
		}
		s.live = s.live[:0]
		require.NoError(t, m.ResetPrefixCache())
		s.resets++
	}
}

// check asks the index and the Manager the same questions: for prompts of the
// workload, the index's cached prefix of the engine equals LookupPrompt's.
func (s *simEngine) check(t *testing.T, x Index, engine EngineID, probes int) {
	t.Helper()
	sch := s.m.HashScheme()
	for range probes {
		p, o := s.prompt()
		tiers, err := s.m.LookupPromptTiers(p, o)
		require.NoError(t, err)
		want := tiers.Tokens
		c := sch.NewChain(prefix.Extras{Adapter: o.Adapter})
		c.Extend(p[:(len(p)-1)/4*4])
		hs := make([]uint64, c.Len())
		for i := range hs {
			hs[i] = uint64(c.Hash(i))
		}
		got := 0
		if len(hs) > 0 {
			ms, err := x.Match(context.Background(), hs, nil)
			require.NoError(t, err)
			for _, m := range ms {
				if m.Engine == engine {
					got = m.Blocks * 4
					require.Equal(t, tiers.Device, m.GPUBlocks*4, "%s: prompt %v: blocks on GPU", engine, p)
				}
			}
		}
		require.Equal(t, want, got, "%s: prompt %v %+v", engine, p, o)
		if want > 0 {
			s.hits++
		}
		if tiers.Host > 0 {
			s.hostHits++
		}
	}
}

func TestManagerSourceConfig(t *testing.T) {
	m, err := paged.New(paged.Config{NumBlocks: 8})
	require.NoError(t, err)
	_, err = NewManagerSource("a", m)
	require.ErrorIs(t, err, ErrInvalidArgument, "events disabled")
	_, err = NewManagerSource("a", nil)
	require.ErrorIs(t, err, ErrInvalidArgument)
	s := newSimEngine(t, 8, 16, 1)
	_, err = NewManagerSource("a|b", s.m)
	require.ErrorIs(t, err, ErrInvalidArgument)
}

// Three Managers under random workloads, polled into a feed: the index answers every
// prefix question as each Manager does — through queue overflows (re-announced),
// cache resets, and a source that joins a warm Manager.
func TestManagerSourceMatchesLookupPrompt(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			x := b.make(t)
			f := manualFeed(t, x, nil)
			var engines []*simEngine
			var sources []*ManagerSource
			for i := range 3 {
				e := newSimEngineHost(t, 48, 32*(i%2), 4+8*i, uint64(i+1)) // engine 0's queue overflows often; 1 has a host cache
				for range 20 * i {                                         // warm before the source joins
					e.step(t)
				}
				src, err := NewManagerSource(EngineID(fmt.Sprintf("m%d", i)), e.m)
				require.NoError(t, err)
				engines, sources = append(engines, e), append(sources, src)
			}
			ctx := context.Background()
			rounds := b.modelOps / 10
			for round := range rounds {
				for i, e := range engines {
					for range 1 + e.rng.IntN(3) {
						e.step(t)
					}
					if round%2 == 0 || i == 0 {
						_, err := sources[i].Poll(f)
						require.NoError(t, err)
					}
				}
				if round%5 != 4 {
					continue
				}
				for _, src := range sources {
					_, err := src.Poll(f)
					require.NoError(t, err)
				}
				require.NoError(t, f.Flush(ctx))
				for i, e := range engines {
					e.check(t, x, sources[i].Engine(), 10)
				}
			}
			require.Positive(t, sources[0].Resets(), "engine 0's small queue overflowed")
			require.Positive(t, engines[1].hostHits, "engine 1 hits its host tier")
			for i, e := range engines {
				require.NoError(t, e.m.CheckInvariants(), "engine %d", i)
				require.Positive(t, e.resets, "engine %d reset its cache", i)
				require.Greater(t, e.hits, rounds/2, "engine %d: probes hit", i)
			}
			s := f.Stats()
			require.Zero(t, s.Errors)
			require.Zero(t, s.Rejected)
		})
	}
}

// A snapshot larger than one batch goes out as several.
func TestManagerSourceLargeSnapshot(t *testing.T) {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = 3*MaxSourceBatchHashes, 1
	cfg.Events = paged.EventOptions{Enabled: true, QueueSize: 1}
	m, err := paged.New(cfg)
	require.NoError(t, err)
	prompt := seqTokens(2*MaxSourceBatchHashes+10, 1)
	id, err := m.Add(prompt, paged.SeqOptions{})
	require.NoError(t, err)
	adm, err := m.Admit(id, len(prompt), 0, nil)
	require.NoError(t, err)
	require.NoError(t, m.MarkComputed(id, adm.N))
	x := newMem(t, MemoryConfig{})
	f := manualFeed(t, x, nil)
	src, err := NewManagerSource("big", m)
	require.NoError(t, err)
	n, err := src.Poll(f)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.NoError(t, f.Flush(context.Background()))
	hs := hashesOf(t, prompt[:len(prompt)-1], 1, prefix.Extras{})[:MaxMatchBlocks]
	ms, err := x.Match(context.Background(), hs, nil)
	require.NoError(t, err)
	require.Equal(t, []EngineMatch{{Engine: "big", Blocks: len(hs), GPUBlocks: len(hs)}}, ms)
}

// When the feed's queue for the engine overflows (its batches discarded), the source
// announces the Manager's cache again at its next Poll.
func TestManagerSourceReannouncesAfterFeedOverflow(t *testing.T) {
	x := newMem(t, MemoryConfig{})
	f := manualFeed(t, x, func(c *FeedConfig) { c.MaxQueuedBatches = 3 })
	e := newSimEngine(t, 48, 1024, 7)
	src, err := NewManagerSource("m", e.m)
	require.NoError(t, err)
	ctx := context.Background()
	for round := range 30 {
		for range 5 { // several polls between flushes: the queue of 3 overflows
			e.step(t)
			_, err := src.Poll(f)
			require.NoError(t, err)
		}
		if round%3 == 2 {
			_, err := src.Poll(f) // sees the overflow: announces again
			require.NoError(t, err)
			require.NoError(t, f.Flush(ctx))
			e.check(t, x, "m", 10)
		}
	}
	require.Positive(t, f.Stats().Overflows)
	require.Positive(t, src.Resets())
	require.Positive(t, e.hits)
}
