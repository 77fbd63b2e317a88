package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

var threeEngines = []EngineID{"a", "b", "c"}

func newRouter(t *testing.T, cfg RouterConfig) *Router {
	t.Helper()
	if cfg.Engines == nil {
		cfg.Engines = threeEngines
	}
	r, err := NewRouter(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.CheckInvariants()) })
	return r
}

func route(t *testing.T, r *Router, tokens []int32, opts RouteOptions) Decision {
	t.Helper()
	d, err := r.Route(context.Background(), tokens, opts)
	require.NoError(t, err)
	return d
}

func TestRouterPrecise(t *testing.T) {
	const bs = 4
	mem := newMem(t, MemoryConfig{})
	prompt := seqTokens(16*bs+2, 1)
	hs := hashesOf(t, prompt, bs, prefix.Extras{})
	mustApply(t, mem, st("b", 0, gpu(hs[:8]...)), Applied)
	mustApply(t, mem, st("c", 0, gpu(hs...)), Applied)
	r := newRouter(t, RouterConfig{Index: mem, Hash: HashConfig{BlockSize: bs}})

	d := route(t, r, prompt, RouteOptions{ExpectedOutputTokens: 10})
	require.Equal(t, "c", string(d.Engine))
	require.Equal(t, 2, d.EngineIndex)
	require.Equal(t, 16*bs, d.HitTokens)
	require.Equal(t, 16*bs, d.GPUHitTokens)
	require.Equal(t, len(prompt), d.PromptTokens)
	// cost = prefill (66/4 − 16) + decode (0 active + ceil(76/4))
	require.InDelta(t, 0.5+19, d.Cost, 1e-9)
	req, blocks := r.Load(2)
	require.Equal(t, 1, req)
	require.Equal(t, 19, blocks)
	require.False(t, d.Degraded)

	// Load outweighs the cache: with c busy enough, b (8 blocks cached) wins.
	// c: 0.5 + 19·k + 19; b: 8.5 + 19.
	small := route(t, r, seqTokens(4, 500), RouteOptions{}) // lands on a or b (1 block)
	require.NotEqual(t, "c", string(small.Engine))
	d2 := route(t, r, prompt, RouteOptions{ExpectedOutputTokens: 10})
	require.Equal(t, "b", string(d2.Engine), "c carries 19 blocks of load > 8 blocks of extra prefill")
	require.NoError(t, r.Finish(d.Ticket, FinishOptions{}))
	require.NoError(t, r.Finish(d2.Ticket, FinishOptions{}))
	require.ErrorIs(t, r.Finish(d.Ticket, FinishOptions{}), ErrUnknownTicket)
	require.ErrorIs(t, r.Finish(Ticket{}, FinishOptions{}), ErrUnknownTicket)
	st := r.Status()
	require.Equal(t, uint64(3), st.Decisions)
	require.Equal(t, uint64(16*bs+8*bs), st.HitTokens)
}

func TestRouterTierWeights(t *testing.T) {
	const bs = 4
	mem := newMem(t, MemoryConfig{})
	prompt := seqTokens(10*bs+1, 1)
	hs := hashesOf(t, prompt, bs, prefix.Extras{})
	mustApply(t, mem, st("a", 0, cpu(hs...)), Applied)     // 10 on CPU = 8 GPU-equivalents
	mustApply(t, mem, st("b", 0, gpu(hs[:9]...)), Applied) // 9 on GPU
	r := newRouter(t, RouterConfig{Index: mem, Hash: HashConfig{BlockSize: bs}})
	d := route(t, r, prompt, RouteOptions{DryRun: true})
	require.Equal(t, "b", string(d.Engine))
	require.True(t, d.Ticket.IsZero())
	r = newRouter(t, RouterConfig{Index: mem, Hash: HashConfig{BlockSize: bs}, Weights: TierWeights{GPU: 1, CPU: 1}})
	d = route(t, r, prompt, RouteOptions{DryRun: true})
	require.Equal(t, "a", string(d.Engine))
	require.Equal(t, 40, d.HitTokens)
	require.Equal(t, 0, d.GPUHitTokens)
}

// Ties go to the request's tie order: the same prompt always lands on the same
// engine, different prompts spread, and loaded engines lose ties.
func TestRouterTieBreak(t *testing.T) {
	mem := newMem(t, MemoryConfig{})
	r := newRouter(t, RouterConfig{Index: mem})
	first := route(t, r, seqTokens(40, 7), RouteOptions{DryRun: true}).Engine
	for range 5 {
		require.Equal(t, first, route(t, r, seqTokens(40, 7), RouteOptions{DryRun: true}).Engine)
	}
	seen := map[EngineID]bool{}
	for i := range 60 {
		seen[route(t, r, seqTokens(40, int32(1000*i)), RouteOptions{DryRun: true}).Engine] = true
	}
	require.Len(t, seen, 3)

	// Load policy: requests spread evenly while outstanding.
	r = newRouter(t, RouterConfig{Policy: PolicyLoad})
	var tickets []Ticket
	for i := range 9 {
		tickets = append(tickets, route(t, r, seqTokens(16, int32(i)), RouteOptions{}).Ticket)
	}
	for i := range 3 {
		n, b := r.Load(i)
		require.Equal(t, 3, n)
		require.Equal(t, 3, b)
	}
	for _, tk := range tickets {
		require.NoError(t, r.Finish(tk, FinishOptions{}))
	}
	require.NoError(t, r.CheckInvariants())
	n, _ := r.Load(0)
	require.Zero(t, n)
}

func TestRouterRandomAndRoundRobin(t *testing.T) {
	seq := func(p PolicyKind, seed uint64) []int {
		r := newRouter(t, RouterConfig{Policy: p, Seed: seed})
		var out []int
		for range 30 {
			out = append(out, route(t, r, seqTokens(8, 1), RouteOptions{DryRun: true}).EngineIndex)
		}
		return out
	}
	a, b, c := seq(PolicyRandom, 1), seq(PolicyRandom, 1), seq(PolicyRandom, 2)
	require.Equal(t, a, b, "seeded")
	require.NotEqual(t, a, c)
	counts := map[int]int{}
	for _, i := range a {
		counts[i]++
	}
	require.Len(t, counts, 3)
	rr := seq(PolicyRoundRobin, 0)
	for i, e := range rr {
		require.Equal(t, i%3, e)
	}
}

// The approximate policy predicts from its own decisions: a repeated prompt goes back
// where it went, its output is cached too, and LRU pressure makes the prediction go.
func TestRouterApproximate(t *testing.T) {
	const bs = 4
	r := newRouter(t, RouterConfig{Policy: PolicyApproximate, ReplicaBlocks: 12, Hash: HashConfig{BlockSize: bs}})
	prompt := seqTokens(8*bs+1, 1)
	d := route(t, r, prompt, RouteOptions{})
	require.Zero(t, d.HitTokens)
	output := seqTokens(2*bs, 900)
	require.NoError(t, r.Finish(d.Ticket, FinishOptions{Output: output}))

	d2 := route(t, r, prompt, RouteOptions{DryRun: true})
	require.Equal(t, d.Engine, d2.Engine)
	require.Equal(t, 8*bs, d2.HitTokens)
	turn2 := append(append(append([]int32{}, prompt...), output...), 5, 6)
	d3 := route(t, r, turn2, RouteOptions{DryRun: true})
	require.Equal(t, d.Engine, d3.Engine)
	require.Equal(t, 10*bs, d3.HitTokens, "the generated blocks are cached too")

	// Other prompts pushed to the same replica evict the first (12 blocks in all).
	rp := r.Predictor().(*ReplicaPredictor)
	m := rp.Manager(d.EngineIndex)
	for i := range 3 {
		h := rp.Started(d.EngineIndex, &Request{Tokens: seqTokens(4*bs+1, int32(5000+100*i))})
		require.NotZero(t, h)
		rp.Finished(d.EngineIndex, h, nil)
	}
	n, err := m.LookupPrompt(prompt, paged.SeqOptions{})
	require.NoError(t, err)
	require.Less(t, n, 8*bs)
	require.NoError(t, m.CheckInvariants())
	// A prompt larger than the replica is not recorded (handle 0), and nothing breaks.
	require.Zero(t, rp.Started(0, &Request{Tokens: seqTokens(100*bs, 1)}))
	rp.Finished(0, 0, nil)
}

// flakyIndex fails Match while down is set.
type flakyIndex struct {
	Index
	down    atomic.Bool
	matches atomic.Int64
}

func (f *flakyIndex) Match(ctx context.Context, hs []uint64, dst []EngineMatch) ([]EngineMatch, error) {
	f.matches.Add(1)
	if f.down.Load() {
		return dst, fmt.Errorf("%w: test says so", ErrUnavailable)
	}
	return f.Index.Match(ctx, hs, dst)
}

func TestRouterDegradesAndRecovers(t *testing.T) {
	const bs = 4
	mem := newMem(t, MemoryConfig{})
	fl := &flakyIndex{Index: mem}
	prompt := seqTokens(8*bs+1, 1)
	mustApply(t, mem, st("c", 0, gpu(hashesOf(t, prompt, bs, prefix.Extras{})...)), Applied)
	var mu sync.Mutex
	var statuses []RouterStatus
	r := newRouter(t, RouterConfig{Index: fl, Hash: HashConfig{BlockSize: bs}, RetryAfter: 30 * time.Millisecond,
		OnStatus: func(s RouterStatus) { mu.Lock(); statuses = append(statuses, s); mu.Unlock() }})

	require.Equal(t, "c", string(route(t, r, prompt, RouteOptions{DryRun: true}).Engine))
	fl.down.Store(true)
	d := route(t, r, prompt, RouteOptions{})
	require.True(t, d.Degraded)
	require.Zero(t, d.HitTokens)
	st := r.Status()
	require.True(t, st.Degraded)
	require.Contains(t, st.Reason, "test says so")
	calls := fl.matches.Load()
	for range 5 { // within RetryAfter the index is not asked
		require.True(t, route(t, r, prompt, RouteOptions{DryRun: true}).Degraded)
	}
	require.Equal(t, calls, fl.matches.Load())
	require.NoError(t, r.Finish(d.Ticket, FinishOptions{}))

	fl.down.Store(false)
	time.Sleep(40 * time.Millisecond)
	d = route(t, r, prompt, RouteOptions{DryRun: true})
	require.False(t, d.Degraded)
	require.Equal(t, "c", string(d.Engine))
	st = r.Status()
	require.False(t, st.Degraded)
	require.Equal(t, uint64(6), st.DegradedDecisions)
	mu.Lock()
	require.Len(t, statuses, 2)
	require.True(t, statuses[0].Degraded)
	require.False(t, statuses[1].Degraded)
	mu.Unlock()

	// A caller's cancelled context is the caller's error, not a degradation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Route(ctx, prompt, RouteOptions{})
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, r.Status().Degraded)
}

// slowIndex blocks Match until its context ends.
type slowIndex struct{ Index }

func (slowIndex) Match(ctx context.Context, _ []uint64, dst []EngineMatch) ([]EngineMatch, error) {
	<-ctx.Done()
	return dst, ctx.Err()
}

func TestRouterIndexTimeout(t *testing.T) {
	r := newRouter(t, RouterConfig{Index: slowIndex{}, IndexTimeout: 5 * time.Millisecond})
	start := time.Now()
	d := route(t, r, seqTokens(64, 1), RouteOptions{DryRun: true})
	require.True(t, d.Degraded)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Contains(t, r.Status().Reason, "longer than")
	require.True(t, errors.Is(fmt.Errorf("%w", ErrUnavailable), ErrUnavailable))
}

func TestRouterBadInput(t *testing.T) {
	mem := newMem(t, MemoryConfig{})
	for _, cfg := range []RouterConfig{
		{},
		{Engines: []EngineID{"a", "a"}, Index: mem},
		{Engines: []EngineID{"a|b"}, Index: mem},
		{Engines: threeEngines},
		{Engines: threeEngines, Policy: "nope", Index: mem},
		{Engines: threeEngines, Policy: PolicyApproximate},
		{Engines: threeEngines, Index: mem, OverlapWeight: -1},
		{Engines: threeEngines, Index: mem, Hash: HashConfig{BlockSize: -4}},
		{Engines: threeEngines, Index: mem, Weights: TierWeights{CPU: -1}},
	} {
		_, err := NewRouter(cfg)
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", cfg)
	}
	r := newRouter(t, RouterConfig{Index: mem})
	for _, c := range []struct {
		tokens []int32
		opts   RouteOptions
	}{
		{nil, RouteOptions{}},
		{[]int32{1}, RouteOptions{ExpectedOutputTokens: -1}},
		{[]int32{1}, RouteOptions{ExpectedOutputTokens: math.MaxInt - 10}}, // would overflow the engine's load
		{[]int32{1, 2}, RouteOptions{ExpectedOutputTokens: MaxRequestTokens - 1}},
		{[]int32{1}, RouteOptions{Extras: prefix.Extras{MM: []prefix.MMItem{{ID: "x", Offset: 5, Length: 0}}}}},
		// Items outside the prompt: refused, not taken for an index failure (which
		// would degrade routing for everyone).
		{seqTokens(40, 1), RouteOptions{Extras: prefix.Extras{MM: []prefix.MMItem{{ID: "x", Offset: 30, Length: 20}}}}},
		{seqTokens(40, 1), RouteOptions{Extras: prefix.Extras{MM: []prefix.MMItem{{ID: "x", Offset: 3, Length: 5}, {ID: "y", Offset: 4, Length: 1}}}}},
	} {
		_, err := r.Route(context.Background(), c.tokens, c.opts)
		require.ErrorIs(t, err, ErrInvalidArgument)
	}
	require.Zero(t, r.Status().Decisions)
	require.False(t, r.Status().Degraded)
	// The approximate policy's replicas refuse such items too: the request is
	// refused and the router stays healthy for the next one.
	ap := newRouter(t, RouterConfig{Policy: PolicyApproximate, ReplicaBlocks: 64})
	_, err := ap.Route(context.Background(), seqTokens(40, 1),
		RouteOptions{Extras: prefix.Extras{MM: []prefix.MMItem{{ID: "x", Offset: 30, Length: 20}}}})
	require.ErrorIs(t, err, ErrInvalidArgument)
	ok, err := ap.Route(context.Background(), seqTokens(40, 1), RouteOptions{})
	require.NoError(t, err)
	require.False(t, ok.Degraded)
	require.NoError(t, ap.Finish(ok.Ticket, FinishOptions{}))
	d, err := r.Route(context.Background(), []int32{1}, RouteOptions{ExpectedOutputTokens: MaxRequestTokens - 1})
	require.NoError(t, err, "the largest request")
	require.NoError(t, r.Finish(d.Ticket, FinishOptions{}))
	p, err := ParsePolicy("round-robin")
	require.NoError(t, err)
	require.Equal(t, PolicyRoundRobin, p)
	_, err = ParsePolicy("best")
	require.ErrorIs(t, err, ErrInvalidArgument)
}

// Many goroutines route and finish concurrently; under -race this checks locking,
// and the load accounting must balance at the end.
func TestRouterConcurrent(t *testing.T) {
	for _, p := range []PolicyKind{PolicyPrecise, PolicyApproximate, PolicyRandom} {
		t.Run(string(p), func(t *testing.T) {
			mem := newMem(t, MemoryConfig{})
			r := newRouter(t, RouterConfig{Policy: p, Index: mem, ReplicaBlocks: 64})
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := range 200 {
						d, err := r.Route(context.Background(), seqTokens(40, int32(i%7)), RouteOptions{ExpectedOutputTokens: 8})
						if err != nil {
							panic(err)
						}
						if err := r.Finish(d.Ticket, FinishOptions{Output: seqTokens(8, int32(g))}); err != nil {
							panic(err)
						}
					}
				}(g)
			}
			wg.Wait()
			require.NoError(t, r.CheckInvariants())
			for i := range 3 {
				n, b := r.Load(i)
				require.Zero(t, n)
				require.Zero(t, b)
			}
			require.Equal(t, uint64(800), r.Status().Decisions)
		})
	}
}
