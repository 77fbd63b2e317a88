package cluster

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// routerSnapshot is a deep copy of everything membership changes touch.
type routerSnapshot struct {
	Engines  []EngineID
	Order    []int
	Requests []int
	Blocks   []int
	IDs      []EngineID
	Pos      []int
	FreeM    []int
	Slots    []ticketSlot
	Free     []int
	Replicas []*paged.Manager
	IndexPos map[EngineID]int
	Status   RouterStatus
}

func snapshot(r *Router) routerSnapshot {
	r.memb.RLock()
	defer r.memb.RUnlock()
	r.mu.Lock()
	l := &r.load
	s := routerSnapshot{Engines: slices.Clone(r.engines), Order: slices.Clone(r.order),
		Requests: slices.Clone(l.requests), Blocks: slices.Clone(l.blocks), IDs: slices.Clone(l.ids),
		Pos: slices.Clone(l.pos), FreeM: slices.Clone(l.freeMembers), Slots: slices.Clone(l.slots), Free: slices.Clone(l.free)}
	r.mu.Unlock()
	switch p := r.pred.(type) {
	case *ReplicaPredictor:
		s.Replicas = slices.Clone(*p.ms.Load())
	case *IndexPredictor:
		s.IndexPos = maps.Clone(*p.pos.Load())
	}
	s.Status = r.Status()
	return s
}

// drainingEngines counts removed engine incarnations that still have requests.
func drainingEngines(r *Router) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load.draining()
}

// customTracker is a Predictor and Tracker the router knows nothing about.
type customTracker struct{}

func (customTracker) Predict(context.Context, *Request, []Candidate) error { return nil }
func (customTracker) Started(int, *Request) uint64                         { return 1 }
func (customTracker) Finished(int, uint64, []int32)                        {}

// Every misuse of AddEngine and RemoveEngine is ErrInvalidArgument and leaves the
// router exactly as it was, whatever the policy and whatever is outstanding.
func TestRouterMembershipMisuse(t *testing.T) {
	long := EngineID(strings.Repeat("x", MaxEngineIDLen+1))
	type op struct {
		name   string
		add    bool
		engine EngineID
	}
	cases := []op{
		{"add empty id", true, ""},
		{"add id with '|'", true, "a|b"},
		{"add id with a space", true, "a b"},
		{"add too long id", true, long},
		{"add present engine", true, "b"},
		{"remove empty id", false, ""},
		{"remove id with '|'", false, "a|b"},
		{"remove too long id", false, long},
		{"remove absent engine", false, "zz"},
	}
	for _, p := range []PolicyKind{PolicyPrecise, PolicyApproximate, PolicyLoad, PolicyRoundRobin} {
		t.Run(string(p), func(t *testing.T) {
			r := newRouter(t, RouterConfig{Policy: p, Index: newMem(t, MemoryConfig{}), ReplicaBlocks: 64})
			// Some history: an engine removed while busy (draining), one re-added.
			var tickets []Ticket
			for i := range 6 {
				tickets = append(tickets, route(t, r, seqTokens(20, int32(100*i)), RouteOptions{}).Ticket)
			}
			require.NoError(t, r.RemoveEngine("a"))
			require.NoError(t, r.AddEngine("d"))
			require.NoError(t, r.AddEngine("a"))
			require.NoError(t, r.CheckInvariants())
			for _, c := range cases {
				before := snapshot(r)
				var err error
				if c.add {
					err = r.AddEngine(c.engine)
				} else {
					err = r.RemoveEngine(c.engine)
				}
				require.ErrorIs(t, err, ErrInvalidArgument, c.name)
				require.Equal(t, before, snapshot(r), c.name)
				require.NoError(t, r.CheckInvariants(), c.name)
			}
			for _, tk := range tickets {
				require.NoError(t, r.Finish(tk, FinishOptions{}))
			}
			require.Zero(t, drainingEngines(r))
		})
	}
	t.Run("last engine", func(t *testing.T) {
		r := newRouter(t, RouterConfig{Engines: []EngineID{"a", "b"}, Policy: PolicyApproximate, ReplicaBlocks: 16})
		require.NoError(t, r.RemoveEngine("a"))
		before := snapshot(r)
		require.ErrorIs(t, r.RemoveEngine("b"), ErrInvalidArgument)
		require.Equal(t, before, snapshot(r))
		require.Equal(t, []EngineID{"b"}, r.Engines())
	})
	t.Run("custom tracker", func(t *testing.T) {
		r := newRouter(t, RouterConfig{Predictor: customTracker{}})
		before := snapshot(r)
		for _, err := range []error{r.AddEngine("d"), r.RemoveEngine("a")} {
			require.ErrorIs(t, err, ErrInvalidArgument)
			require.ErrorIs(t, err, errors.ErrUnsupported)
		}
		require.Equal(t, before, snapshot(r))
	})
	t.Run("replica predictor of another size", func(t *testing.T) {
		p, err := NewReplicaPredictor(ReplicaConfig{Engines: 2, Blocks: 16})
		require.NoError(t, err)
		_, err = NewRouter(RouterConfig{Engines: threeEngines, Predictor: p})
		require.ErrorIs(t, err, ErrInvalidConfig)
		sc, err := NewScorer(ScorerConfig{Index: newMem(t, MemoryConfig{})})
		require.NoError(t, err)
		_, err = NewRouter(RouterConfig{Engines: threeEngines, Predictor: NewIndexPredictor(sc, []EngineID{"a", "c", "b"})})
		require.ErrorIs(t, err, ErrInvalidConfig, "another order")
		r, err := NewRouter(RouterConfig{Engines: threeEngines, Predictor: NewIndexPredictor(sc, threeEngines)})
		require.NoError(t, err)
		require.NoError(t, r.AddEngine("d"))
		require.NoError(t, r.CheckInvariants())
	})
}

// Route, remove an engine with requests outstanding, finish them, add it back,
// route again: the removed engine gets nothing new, its tickets finish cleanly
// without touching its next incarnation, which starts with no load.
func TestRouterMembershipScenario(t *testing.T) {
	r := newRouter(t, RouterConfig{Policy: PolicyLoad, Hash: HashConfig{BlockSize: 4}})
	byEngine := map[EngineID][]Ticket{}
	for i := range 6 { // 2 requests of 2 blocks each per engine
		d := route(t, r, seqTokens(8, int32(10*i)), RouteOptions{})
		require.Equal(t, d.Engine, r.Engines()[d.EngineIndex])
		byEngine[d.Engine] = append(byEngine[d.Engine], d.Ticket)
	}
	for _, e := range threeEngines {
		n, b, ok := r.LoadOf(e)
		require.True(t, ok)
		require.Equal(t, [2]int{2, 4}, [2]int{n, b}, e)
	}

	require.NoError(t, r.RemoveEngine("b"))
	require.Equal(t, []EngineID{"a", "c"}, r.Engines())
	_, _, ok := r.LoadOf("b")
	require.False(t, ok, "a removed engine's load is hidden")
	n, b := r.Load(1)
	require.Equal(t, [2]int{2, 4}, [2]int{n, b}, "c moved to position 1")
	n, b = r.Load(2)
	require.Equal(t, [2]int{0, 0}, [2]int{n, b}, "no position 2 any more")
	require.Equal(t, 1, drainingEngines(r))
	require.NoError(t, r.CheckInvariants())
	for i := range 8 {
		d := route(t, r, seqTokens(8, int32(1000+10*i)), RouteOptions{DryRun: i%2 == 0})
		require.NotEqual(t, EngineID("b"), d.Engine)
		require.Equal(t, d.Engine, r.Engines()[d.EngineIndex])
		if !d.Ticket.IsZero() {
			require.NoError(t, r.Finish(d.Ticket, FinishOptions{}))
		}
	}

	// b's first request finishes while b is away; then b comes back fresh.
	require.NoError(t, r.Finish(byEngine["b"][0], FinishOptions{}))
	require.ErrorIs(t, r.Finish(byEngine["b"][0], FinishOptions{}), ErrUnknownTicket)
	require.Equal(t, 1, drainingEngines(r))
	require.NoError(t, r.AddEngine("b"))
	require.Equal(t, []EngineID{"a", "c", "b"}, r.Engines())
	n, b, ok = r.LoadOf("b")
	require.True(t, ok)
	require.Equal(t, [2]int{0, 0}, [2]int{n, b}, "a re-added engine starts with no load")
	require.NoError(t, r.CheckInvariants())

	// The least loaded engine is the new b: it gets the next request, at index 2.
	d := route(t, r, seqTokens(8, 5000), RouteOptions{})
	require.Equal(t, EngineID("b"), d.Engine)
	require.Equal(t, 2, d.EngineIndex)
	// The old incarnation's last ticket releases the old load, not the new one.
	require.NoError(t, r.Finish(byEngine["b"][1], FinishOptions{}))
	require.Zero(t, drainingEngines(r))
	n, b, _ = r.LoadOf("b")
	require.Equal(t, [2]int{1, 2}, [2]int{n, b})
	require.NoError(t, r.CheckInvariants())
	require.NoError(t, r.Finish(d.Ticket, FinishOptions{}))
	for _, e := range []EngineID{"a", "c"} {
		for _, tk := range byEngine[e] {
			require.NoError(t, r.Finish(tk, FinishOptions{}))
		}
	}
	for i := range r.Engines() {
		n, b := r.Load(i)
		require.Equal(t, [2]int{0, 0}, [2]int{n, b})
	}
	// Member slots are reused: three present engines, nothing draining, no growth.
	r.mu.Lock()
	require.Len(t, r.load.ids, 4)
	require.Len(t, r.load.freeMembers, 1)
	r.mu.Unlock()
}

// The approximate policy: a removed engine's replica goes with it (its outstanding
// requests finish without it), a re-added one starts empty, a new one is configured
// like the others.
func TestRouterMembershipApproximate(t *testing.T) {
	const bs = 4
	r := newRouter(t, RouterConfig{Policy: PolicyApproximate, ReplicaBlocks: 32, Hash: HashConfig{BlockSize: bs}})
	rp := r.Predictor().(*ReplicaPredictor)
	prompt := seqTokens(6*bs+1, 1)
	d := route(t, r, prompt, RouteOptions{})
	home := d.Engine
	require.NoError(t, r.Finish(d.Ticket, FinishOptions{}))
	d = route(t, r, prompt, RouteOptions{}) // outstanding when home is removed
	require.Equal(t, home, d.Engine)
	require.Equal(t, 6*bs, d.HitTokens)

	require.NoError(t, r.RemoveEngine(home))
	require.Equal(t, 2, rp.Engines())
	require.NoError(t, r.CheckInvariants())
	d2 := route(t, r, prompt, RouteOptions{DryRun: true})
	require.NotEqual(t, home, d2.Engine)
	require.Zero(t, d2.HitTokens, "the prompt was cached only on the removed engine")
	require.NoError(t, r.Finish(d.Ticket, FinishOptions{Output: seqTokens(bs, 99)}), "its replica is gone; the ticket still finishes")

	require.NoError(t, r.AddEngine(home))
	require.NoError(t, r.AddEngine("new"))
	require.Equal(t, 4, rp.Engines())
	for i := range r.Engines() {
		st := rp.Manager(i).Stats()
		require.Equal(t, 32, st.NumBlocks)
		require.Equal(t, rp.Manager(0).Config(), rp.Manager(i).Config())
	}
	require.Zero(t, rp.Manager(2).Stats().CachedBlocks, "re-added: empty")
	require.Zero(t, route(t, r, prompt, RouteOptions{DryRun: true}).HitTokens)
	// The new replicas learn like the others.
	d3 := route(t, r, prompt, RouteOptions{})
	require.NoError(t, r.Finish(d3.Ticket, FinishOptions{}))
	d4 := route(t, r, prompt, RouteOptions{DryRun: true})
	require.Equal(t, d3.Engine, d4.Engine)
	require.Equal(t, 6*bs, d4.HitTokens)
	for i := range r.Engines() {
		require.NoError(t, rp.Manager(i).CheckInvariants())
	}
}

// The precise policy never routes to a removed engine, even while the index still
// lists it; once the control plane drops it from the index, a re-added engine of
// the same name starts without hits.
func TestRouterMembershipPrecise(t *testing.T) {
	const bs = 4
	ctx := context.Background()
	mem := newMem(t, MemoryConfig{})
	prompt := seqTokens(8*bs+1, 1)
	mustApply(t, mem, st("c", 0, gpu(hashesOf(t, prompt, bs, prefix.Extras{})...)), Applied)
	r := newRouter(t, RouterConfig{Index: mem, Hash: HashConfig{BlockSize: bs}})
	require.Equal(t, EngineID("c"), route(t, r, prompt, RouteOptions{DryRun: true}).Engine)

	require.NoError(t, r.RemoveEngine("c"))
	for range 5 {
		d := route(t, r, prompt, RouteOptions{DryRun: true})
		require.NotEqual(t, EngineID("c"), d.Engine)
		require.Zero(t, d.HitTokens)
	}
	require.NoError(t, r.AddEngine("c")) // the index still lists c: its hits count again
	d := route(t, r, prompt, RouteOptions{DryRun: true})
	require.Equal(t, EngineID("c"), d.Engine)
	require.Equal(t, 2, d.EngineIndex)
	require.Equal(t, 8*bs, d.HitTokens)

	require.NoError(t, r.RemoveEngine("c"))
	require.NoError(t, mem.DropEngine(ctx, "c")) // what the control plane should do
	require.NoError(t, r.AddEngine("c"))
	require.Zero(t, route(t, r, prompt, RouteOptions{DryRun: true}).HitTokens)
}

// Round-robin and random pick only present engines, in a deterministic order.
func TestRouterMembershipRandomAndRoundRobin(t *testing.T) {
	four := []EngineID{"a", "b", "c", "d"}
	seq := func(p PolicyKind) []EngineID {
		r := newRouter(t, RouterConfig{Engines: four, Policy: p, Seed: 7})
		require.NoError(t, r.RemoveEngine("b"))
		require.NoError(t, r.AddEngine("e"))
		var out []EngineID
		for range 40 {
			out = append(out, route(t, r, seqTokens(8, 1), RouteOptions{DryRun: true}).Engine)
		}
		return out
	}
	rr := seq(PolicyRoundRobin)
	for i, e := range rr {
		require.Equal(t, []EngineID{"a", "c", "d", "e"}[i%4], e)
	}
	rnd := seq(PolicyRandom)
	require.Equal(t, rnd, seq(PolicyRandom), "seeded")
	seen := map[EngineID]int{}
	for _, e := range rnd {
		seen[e]++
	}
	require.NotContains(t, seen, EngineID("b"))
	require.Len(t, seen, 4)
}

// Goroutines route and finish (holding requests across membership changes) while
// another adds and removes engines; under -race this checks the locking. Every
// Route that starts after a RemoveEngine returned avoids that engine, and the
// accounting balances at the end.
func TestRouterMembershipConcurrent(t *testing.T) {
	for _, p := range []PolicyKind{PolicyPrecise, PolicyApproximate, PolicyLoad, PolicyRoundRobin} {
		t.Run(string(p), func(t *testing.T) {
			ctx := context.Background()
			mem := newMem(t, MemoryConfig{})
			prompt := seqTokens(40, 1)
			for _, e := range []EngineID{"a", "x1", "x2"} { // the index lists engines that come and go
				mustApply(t, mem, st(e, 0, gpu(hashesOf(t, prompt, 16, prefix.Extras{})...)), Applied)
			}
			r := newRouter(t, RouterConfig{Policy: p, Index: mem, ReplicaBlocks: 64})
			stop := make(chan struct{})
			var routed atomic.Int64
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					var held []Ticket
					for i := 0; ; i++ {
						select {
						case <-stop:
							for _, tk := range held {
								if err := r.Finish(tk, FinishOptions{}); err != nil {
									panic(err)
								}
							}
							return
						default:
						}
						d, err := r.Route(ctx, seqTokens(40, int32(i%5)), RouteOptions{ExpectedOutputTokens: 8})
						if err != nil {
							panic(err)
						}
						routed.Add(1)
						held = append(held, d.Ticket)
						if len(held) > 3 {
							if err := r.Finish(held[0], FinishOptions{Output: seqTokens(8, int32(g))}); err != nil {
								panic(err)
							}
							held = held[1:]
						}
					}
				}(g)
			}
			extra := []EngineID{"x1", "x2", "x3"}
			for i := 0; i < 60 || routed.Load() < 400; i++ {
				e := extra[i%len(extra)]
				if _, _, ok := r.LoadOf(e); ok {
					require.NoError(t, r.RemoveEngine(e))
					for range 3 {
						d, err := r.Route(ctx, prompt, RouteOptions{DryRun: true})
						require.NoError(t, err)
						require.NotEqual(t, e, d.Engine)
					}
				} else {
					require.NoError(t, r.AddEngine(e))
				}
				if i%7 == 0 {
					require.NoError(t, r.CheckInvariants())
				}
			}
			close(stop)
			wg.Wait()
			require.NoError(t, r.CheckInvariants())
			require.Zero(t, drainingEngines(r))
			for _, e := range r.Engines() {
				n, b, ok := r.LoadOf(e)
				require.True(t, ok)
				require.Equal(t, [2]int{0, 0}, [2]int{n, b}, e)
			}
		})
	}
}
