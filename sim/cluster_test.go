package sim

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

func runCluster(t testing.TB, cfg ClusterConfig, reqs []workload.Request) *ClusterResult {
	t.Helper()
	r, err := RunCluster(cfg, workload.Slice(reqs))
	require.NoError(t, err)
	return r
}

// One engine behind any router is the single-engine simulator: the fleet's event
// loop (begin and commit at their own times, requests pushed at arrival) changes
// nothing.
func TestClusterOfOneIsRun(t *testing.T) {
	for _, w := range []workload.Synthetic{
		{Profile: workload.ShareGPT(), Rate: 2, Requests: horizon(600, 60), Seed: 21, SystemPrompt: 300, SystemFraction: 0.5},
		{Profile: workload.Alpaca(), Rate: 0, Requests: horizon(400, 50), Seed: 22, Beam: 3},
	} {
		reqs := generate(t, w)
		single := run(t, DefaultConfig(), reqs)
		for _, router := range []string{"precise", "approximate", "load", "random", "round-robin"} {
			cfg := ClusterConfig{Engine: DefaultConfig(), Router: router}
			cfg.Engine.checkEvery = horizon(50, 25)
			c := runCluster(t, cfg, reqs)
			require.Equal(t, single.RequestsCompleted, c.RequestsCompleted, router)
			require.Equal(t, single.Preemptions, c.Preemptions, router)
			require.InDelta(t, single.MeanTTFTS, c.TTFTMeanS, 1e-9, router)
			require.InDelta(t, single.ThroughputTokS, c.ThroughputTokS, 1e-6, router)
			require.InDelta(t, 100*single.PrefixHitRate, c.HitRatePct, 1e-9, router)
			require.InDelta(t, single.MeanBatch, c.PerEngine[0].MeanBatch, 1e-9, router)
			require.InDelta(t, single.TokenStatesPct, c.PerEngine[0].TokenStatesPct, 1e-9, router)
			require.InDelta(t, 1, c.Imbalance, 1e-12)
		}
	}
}

// clusterWorkload is multi-turn chat with a shared system prompt: each session's
// turns extend its earlier ones, so where a turn is routed decides whether its
// prefix is cached there.
func clusterWorkload(n int) workload.Synthetic {
	return workload.Synthetic{Profile: workload.ShareGPT(), Rate: 6, Requests: n, Seed: 31, SystemPrompt: 200,
		SystemFraction: 0.5, Turns: 4, ThinkTime: 4}
}

// Every router and cache mode keeps the fleet's invariants after every few
// commits — the engines', the router's load accounting, the outstanding counts, and
// the index agreeing with the managers — swapping included.
func TestClusterInvariants(t *testing.T) {
	reqs := generate(t, clusterWorkload(horizon(200, 24)))
	swaps := []float64{0, 0.5}
	routers := []string{"precise", "approximate", "load", "random", "round-robin"}
	if raceOn { // (the index checks dominate under the race detector)
		swaps, routers = swaps[1:], []string{"precise", "approximate", "round-robin"}
	}
	for _, router := range routers {
		for _, mode := range []string{CacheLocal, CacheGlobal} {
			for _, swap := range swaps {
				cfg := ClusterConfig{Engine: DefaultConfig(), Engines: 3, Router: router, CacheMode: mode,
					Selector: []string{SelectorCost, SelectorLLMD}[len(router)%2]}
				cfg.Engine.SwapSpaceGiB = swap
				cfg.Engine.Hardware.MemUtil = 0.75 // a tighter KV pool: preemptions happen
				cfg.Engine.checkEvery = horizon(11, 15)
				r := runCluster(t, cfg, reqs)
				name := fmt.Sprintf("%s/%s/swap %v", router, mode, swap)
				require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected, name)
				routed := 0
				for _, e := range r.PerEngine {
					routed += e.RequestsRouted
				}
				require.Equal(t, len(reqs)-r.RequestsTooLong, routed, name) // too long for any engine: not routed
				require.GreaterOrEqual(t, r.Imbalance, 1.0, name)
				require.LessOrEqual(t, r.TTFTP50S, r.TTFTP90S, name)
				require.LessOrEqual(t, r.TTFTP90S, r.TTFTP99S, name)
				if mode == CacheLocal {
					require.Zero(t, r.RemoteHitPct, name)
				}
			}
		}
	}
}

// Prefix-aware routing keeps each session on the engine that holds its history
// (engines with room to cache it: Llama-2-7B on an A100-80GB holds 118K tokens).
func TestClusterPrefixAwareRoutingHits(t *testing.T) {
	reqs := generate(t, clusterWorkload(horizon(600, 80)))
	engine := DefaultConfig()
	engine.Hardware = hardware.Deployment{Model: model(t, "llama-2-7b"), GPU: gpu(t, "a100-80")}
	hit := map[string]float64{}
	for _, router := range []string{"precise", "approximate", "random", "round-robin"} {
		hit[router] = runCluster(t, ClusterConfig{Engine: engine, Engines: 4, Router: router}, reqs).HitRatePct
	}
	require.Greater(t, hit["precise"], hit["random"]+10, "%v", hit)
	require.Greater(t, hit["approximate"], hit["random"]+10, "%v", hit)
	require.Greater(t, hit["precise"], hit["round-robin"]+10, "%v", hit)
	// The global cache recovers what routing scattered.
	g := runCluster(t, ClusterConfig{Engine: engine, Engines: 4, Router: "random", CacheMode: CacheGlobal}, reqs)
	require.Greater(t, g.HitRatePct, hit["random"]+10)
	require.Positive(t, g.Transfers)
}

func TestClusterDeterministic(t *testing.T) {
	reqs := generate(t, clusterWorkload(horizon(200, 30)))
	for _, router := range []string{"precise", "approximate", "random"} {
		cfg := ClusterConfig{Engine: DefaultConfig(), Engines: 3, Router: router, CacheMode: CacheGlobal}
		a, b := runCluster(t, cfg, reqs), runCluster(t, cfg, reqs)
		a.WallS, b.WallS, a.RouterDecisionsPerS, b.RouterDecisionsPerS = 0, 0, 0, 0
		require.Equal(t, a, b, router)
	}
}

// A global cache loads the prefix another engine holds over the network: the
// second request, sent to the other engine, finds the first one's prompt there,
// pays its transfer (tokens × KV bytes per token / bandwidth) and computes only the
// rest.
func TestClusterGlobalCacheTransfer(t *testing.T) {
	prompt := make([]int32, 1000)
	for i := range prompt {
		prompt[i] = int32(i + 7)
	}
	second := append(append([]int32{}, prompt...), 1, 2, 3, 4, 5)
	reqs := []workload.Request{
		{ID: 0, Arrival: 0, Prompt: prompt, OutputLen: 4, N: 1},
		{ID: 1, Arrival: 10, Prompt: second, OutputLen: 4, N: 1},
	}
	cfg := ClusterConfig{Engine: DefaultConfig(), Engines: 2, Router: "round-robin", NetGbps: 100}
	local := runCluster(t, cfg, reqs)
	cfg.CacheMode = CacheGlobal
	global := runCluster(t, cfg, reqs)
	require.Zero(t, local.HitRatePct)
	require.Equal(t, 1, global.Transfers)
	cached := 1000 / 16 * 16 // the first prompt's full blocks
	want := float64(cached) * DefaultConfig().withDefaults().Hardware.Model.KVBytesPerToken(2) / (100e9 / 8)
	require.InDelta(t, want, global.TransferMeanS, 1e-12)
	require.InDelta(t, 100*float64(cached)/float64(1000+1005), global.HitRatePct, 1e-9)
	require.Equal(t, global.HitRatePct, global.RemoteHitPct)
	require.Greater(t, global.PrefillSavedPct, 0.0)
	// The second request waits for its prefix but computes 21 tokens instead of 1005.
	require.Less(t, global.PerEngine[1].TTFTMeanS, local.PerEngine[1].TTFTMeanS+want)
	require.Greater(t, global.PerEngine[1].TTFTMeanS, want)
}

// DrainWindows starts a window only once every earlier request has finished, and
// shifts its arrivals by the wait; windows report their own requests.
func TestClusterDrainWindows(t *testing.T) {
	reqs := []workload.Request{
		{ID: 0, Arrival: 0, Prompt: make([]int32, 100), OutputLen: 300, N: 1},
		{ID: 1, Arrival: 1, Prompt: make([]int32, 100), OutputLen: 2, N: 1},
		{ID: 2, Arrival: 1.5, Prompt: make([]int32, 100), OutputLen: 2, N: 1},
	}
	cfg := ClusterConfig{Engine: DefaultConfig(), Engines: 2, Router: "round-robin", Windows: []float64{0, 1}}
	open := runCluster(t, cfg, reqs)
	cfg.DrainWindows = true
	closed := runCluster(t, cfg, reqs)
	require.Len(t, closed.Windows, 2)
	require.Equal(t, []int{1, 2}, []int{closed.Windows[0].Requests, closed.Windows[1].Requests})
	require.Equal(t, 1.0, open.Windows[1].Start)
	// 300 decode steps of OPT-13B take seconds: the second window starts after them.
	require.Greater(t, closed.Windows[1].Start, 3.0)
	require.Equal(t, []float64{0, 1}, []float64{closed.Windows[0].Start, closed.Windows[0].End})
	require.Zero(t, closed.Windows[1].End, "the last window runs to the end")
	require.InDelta(t, open.Windows[1].TTFTMeanS, closed.Windows[1].TTFTMeanS, 0.05, "no queueing behind the long request")
	require.Greater(t, closed.SimulatedS, open.SimulatedS)
}

// A prefill-only pool ends each request with its first token.
func TestClusterPrefillOnly(t *testing.T) {
	reqs := generate(t, clusterWorkload(horizon(200, 30)))
	r := runCluster(t, ClusterConfig{Engine: DefaultConfig(), Engines: 2, PrefillOnly: true}, reqs)
	require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected)
	require.Positive(t, r.RequestsCompleted)
	require.InDelta(t, r.ThroughputReqS, r.ThroughputTokS, 1e-9, "one token each")
}

// An event queue too small for one iteration's events overflows; the feed then
// rebuilds the engine's entries from its cache (ResyncEvents), and the index still
// agrees with the managers.
func TestClusterEventOverflowResyncs(t *testing.T) {
	reqs := generate(t, clusterWorkload(horizon(200, 10)))
	cfg := ClusterConfig{Engine: DefaultConfig(), Engines: 3, eventQueue: 2}
	cfg.Engine.checkEvery = horizon(5, 4)
	small := runCluster(t, cfg, reqs)
	cfg.eventQueue = 0
	require.Equal(t, runCluster(t, cfg, reqs).HitRatePct, small.HitRatePct, "no routing decision changes")
}

// faultyIndex fails every call between two counts, like a Redis outage.
type faultyIndex struct {
	cluster.Index
	calls, from, to int
}

func (x *faultyIndex) fail() error {
	x.calls++
	if x.calls >= x.from && x.calls < x.to {
		return fmt.Errorf("%w: injected outage", cluster.ErrUnavailable)
	}
	return nil
}

func (x *faultyIndex) ApplyBatches(ctx context.Context, bs []cluster.Batch, dst []cluster.ApplyResult) ([]cluster.ApplyResult, error) {
	if err := x.fail(); err != nil {
		return dst, err
	}
	return x.Index.ApplyBatches(ctx, bs, dst)
}

func (x *faultyIndex) Match(ctx context.Context, hashes []uint64, dst []cluster.EngineMatch) ([]cluster.EngineMatch, error) {
	if err := x.fail(); err != nil {
		return dst, err
	}
	return x.Index.Match(ctx, hashes, dst)
}

func (x *faultyIndex) DropEngine(ctx context.Context, e cluster.EngineID) error {
	if x.calls > 0 { // not at the start
		if err := x.fail(); err != nil {
			return err
		}
	}
	return x.Index.DropEngine(ctx, e)
}

// An index outage mid-run: the router routes on load alone and says so, the global
// cache finds nothing, the lost batches are rebuilt from the managers' caches once
// the index answers, and the index agrees with the managers again.
func TestClusterIndexOutage(t *testing.T) {
	reqs := generate(t, clusterWorkload(horizon(300, 40)))
	mem, err := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	require.NoError(t, err)
	idx := &faultyIndex{Index: mem, from: 100, to: 160}
	cfg := ClusterConfig{Engine: DefaultConfig(), Engines: 3, CacheMode: CacheGlobal, Index: idx}
	cfg.Engine.checkEvery = horizon(11, 5)
	r := runCluster(t, cfg, reqs)
	require.Equal(t, len(reqs), r.RequestsCompleted+r.RequestsRejected)
	require.Positive(t, r.IndexErrors)
	require.Greater(t, idx.calls, idx.to, "the index was used again after the outage")
	require.NoError(t, mem.CheckInvariants())
}

func TestClusterConfigErrors(t *testing.T) {
	reqs := generate(t, clusterWorkload(10))
	for _, cfg := range []ClusterConfig{
		{Engines: -1}, {Engines: MaxEngines + 1}, {Router: "nearest"}, {Selector: "best"}, {CacheMode: "shared"},
		{CacheTokens: -1}, {CacheTokens: 8}, {CacheTokens: 1 << 40}, {ReplicaTokens: -5}, {ReplicaTokens: 3},
		{NetGbps: -1}, {NetGbps: math.Inf(1)}, {Windows: []float64{1, 1}}, {Windows: []float64{math.NaN()}},
		{DrainWindows: true}, {Engine: Config{Policy: PolicyOrcaMax}}, {Engine: Config{BlockSize: -1}},
		{Engines: 1000, CacheTokens: 16 << 20},
		{Router: "approximate", Engines: 1000, ReplicaTokens: 16 << 20},
	} {
		_, err := RunCluster(cfg, workload.Slice(reqs))
		require.ErrorIs(t, err, ErrInvalid, "%+v", cfg)
	}
	_, err := RunCluster(ClusterConfig{}, workload.Slice(nil))
	require.ErrorIs(t, err, ErrInvalid)
}

// A cache larger than the GPUs hold gets a host tier: evicted blocks are offloaded
// and hits there onloaded (each copy charged to the iteration); the fleet hits more
// than with the device pool alone, and the index follows both tiers.
func TestClusterHostTier(t *testing.T) {
	reqs := generate(t, clusterWorkload(horizon(400, 80)))
	cfg := ClusterConfig{Engine: DefaultConfig(), Engines: 2, Router: "precise"}
	cfg.Engine.Hardware.MemUtil = 0.75 // 7.9K tokens of KV: the device cache overflows soon
	cfg.Engine.checkEvery = horizon(9, 25)
	device := runCluster(t, cfg, reqs)
	require.Zero(t, device.HostTokens)
	require.Zero(t, device.HostHitPct)
	def := cfg.withDefaults()
	kv := def.Engine.kvBlocks() * 16
	cfg.CacheTokens = 4 * kv
	tiered := runCluster(t, cfg, reqs)
	require.Equal(t, 4*kv, tiered.CacheTokens)
	require.Equal(t, 3*kv, tiered.HostTokens)
	require.Positive(t, tiered.HostHitPct)
	require.Greater(t, tiered.HitRatePct, device.HitRatePct)
	cfg.CacheTokens = kv / 2 // smaller than the GPUs: the device pool shrinks
	small := runCluster(t, cfg, reqs)
	require.Equal(t, kv/2/16*16, small.CacheTokens)
	require.Zero(t, small.HostTokens)
	require.Equal(t, kv/2/16, small.PerEngine[0].NumBlocks)
}
