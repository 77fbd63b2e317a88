package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestIndexCollector(t *testing.T) {
	x := newMem(t, MemoryConfig{})
	ctx := context.Background()
	mustApply(t, x, st("a", 0, gpu(1, 2), cpu(1)), Applied)
	mustApply(t, x, st("a", 0), Duplicate)
	mustApply(t, x, st("a", 2, rmGPU(2)), Gap)
	mustApply(t, x, st("a", 1, rmGPU(2)), Applied)
	mustApply(t, x, st("a", 2, cleared()), Applied)
	mustApply(t, x, st("b", 0, gpu(7)), Applied)
	require.NoError(t, x.MarkStale(ctx, "b"))
	mustApply(t, x, st("b", 1), Refused)
	require.NoError(t, x.Resync(ctx, "b", 9))
	require.NoError(t, x.MarkStale(ctx, "c"))

	c := NewIndexCollector(x, CollectorOptions{ConstLabels: prometheus.Labels{"model_name": "m"}})
	want := `
# HELP pagedkv_cluster_index_batches_total Event batches offered to the index, by outcome.
# TYPE pagedkv_cluster_index_batches_total counter
pagedkv_cluster_index_batches_total{model_name="m",outcome="applied"} 4
pagedkv_cluster_index_batches_total{model_name="m",outcome="duplicate"} 1
pagedkv_cluster_index_batches_total{model_name="m",outcome="gap"} 1
pagedkv_cluster_index_batches_total{model_name="m",outcome="refused"} 1
# HELP pagedkv_cluster_index_blocks_removed_total Blocks removed (BlockRemoved hashes applied).
# TYPE pagedkv_cluster_index_blocks_removed_total counter
pagedkv_cluster_index_blocks_removed_total{model_name="m"} 1
# HELP pagedkv_cluster_index_blocks_stored_total Blocks stored (BlockStored hashes applied).
# TYPE pagedkv_cluster_index_blocks_stored_total counter
pagedkv_cluster_index_blocks_stored_total{model_name="m"} 4
# HELP pagedkv_cluster_index_clears_total AllBlocksCleared events applied.
# TYPE pagedkv_cluster_index_clears_total counter
pagedkv_cluster_index_clears_total{model_name="m"} 1
# HELP pagedkv_cluster_index_engine_drops_total Engines whose entries were discarded (drop, or resync that could not continue).
# TYPE pagedkv_cluster_index_engine_drops_total counter
pagedkv_cluster_index_engine_drops_total{model_name="m"} 1
# HELP pagedkv_cluster_index_engines Engines known to the index, by state.
# TYPE pagedkv_cluster_index_engines gauge
pagedkv_cluster_index_engines{model_name="m",state="behind"} 0
pagedkv_cluster_index_engines{model_name="m",state="live"} 2
pagedkv_cluster_index_engines{model_name="m",state="stale"} 1
# HELP pagedkv_cluster_index_replayed_batches_total Batches applied while an engine was closing a sequence gap.
# TYPE pagedkv_cluster_index_replayed_batches_total counter
pagedkv_cluster_index_replayed_batches_total{model_name="m"} 2
# HELP pagedkv_cluster_index_up 1 if the index answered the last stats query, 0 if it is unreachable.
# TYPE pagedkv_cluster_index_up gauge
pagedkv_cluster_index_up{model_name="m"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"pagedkv_cluster_index_batches_total", "pagedkv_cluster_index_blocks_removed_total",
		"pagedkv_cluster_index_blocks_stored_total", "pagedkv_cluster_index_clears_total",
		"pagedkv_cluster_index_engine_drops_total", "pagedkv_cluster_index_engines",
		"pagedkv_cluster_index_replayed_batches_total", "pagedkv_cluster_index_up"))
	require.Equal(t, 19, testutil.CollectAndCount(c))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestIndexCollectorRedisDown(t *testing.T) {
	mr := miniredis.RunT(t)
	x, err := NewRedisIndex(RedisConfig{Addr: mr.Addr(), Prefix: uniquePrefix()})
	require.NoError(t, err)
	defer x.Close()
	mustApply(t, x, st("a", 0, gpu(1)), Applied)
	c := NewIndexCollector(x, CollectorOptions{})
	require.Equal(t, 18, testutil.CollectAndCount(c), "all but entries (unknown for Redis)")
	// DBSIZE: one block key, the engine's meta, the engines set, the stats hash.
	require.InDelta(t, 4, testutil.ToFloat64(gaugeOnly(c, "pagedkv_cluster_index_keys")), 0.5)
	mr.Close()
	require.Equal(t, 1, testutil.CollectAndCount(c))
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP pagedkv_cluster_index_up 1 if the index answered the last stats query, 0 if it is unreachable.
# TYPE pagedkv_cluster_index_up gauge
pagedkv_cluster_index_up 0
`)))
}

// gaugeOnly wraps one metric of a collector so testutil.ToFloat64 can read it.
func gaugeOnly(c prometheus.Collector, name string) prometheus.Collector {
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		all := make(chan prometheus.Metric, 64)
		c.Collect(all)
		close(all)
		for m := range all {
			if strings.Contains(m.Desc().String(), `"`+name+`"`) {
				ch <- m
			}
		}
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func TestRouterCollector(t *testing.T) {
	const bs = 4
	mem := newMem(t, MemoryConfig{})
	prompt := seqTokens(4*bs+1, 1)
	mustApply(t, mem, st("b", 0, gpu(hashesOf(t, prompt, bs, prefix.Extras{})...)), Applied)
	r := newRouter(t, RouterConfig{Engines: []EngineID{"a", "b"}, Index: mem, Hash: HashConfig{BlockSize: bs}})
	d := route(t, r, prompt, RouteOptions{ExpectedOutputTokens: 3})
	route(t, r, seqTokens(5, 100), RouteOptions{DryRun: true})
	require.Equal(t, "b", string(d.Engine))
	c := NewRouterCollector(r, CollectorOptions{})
	want := `
# HELP pagedkv_cluster_router_active_blocks KV blocks of the engine's outstanding requests (prompt and expected output).
# TYPE pagedkv_cluster_router_active_blocks gauge
pagedkv_cluster_router_active_blocks{engine="a"} 0
pagedkv_cluster_router_active_blocks{engine="b"} 5
# HELP pagedkv_cluster_router_active_requests Requests routed to the engine and not finished.
# TYPE pagedkv_cluster_router_active_requests gauge
pagedkv_cluster_router_active_requests{engine="a"} 0
pagedkv_cluster_router_active_requests{engine="b"} 1
# HELP pagedkv_cluster_router_decisions_total Requests routed.
# TYPE pagedkv_cluster_router_decisions_total counter
pagedkv_cluster_router_decisions_total{policy="precise"} 2
# HELP pagedkv_cluster_router_degraded 1 while the router routes on load alone because predictions fail.
# TYPE pagedkv_cluster_router_degraded gauge
pagedkv_cluster_router_degraded{policy="precise"} 0
# HELP pagedkv_cluster_router_expected_hit_tokens_total Cached prefix tokens expected on the chosen engines.
# TYPE pagedkv_cluster_router_expected_hit_tokens_total counter
pagedkv_cluster_router_expected_hit_tokens_total 16
# HELP pagedkv_cluster_router_prompt_tokens_total Prompt tokens routed.
# TYPE pagedkv_cluster_router_prompt_tokens_total counter
pagedkv_cluster_router_prompt_tokens_total 22
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"pagedkv_cluster_router_active_blocks", "pagedkv_cluster_router_active_requests",
		"pagedkv_cluster_router_decisions_total", "pagedkv_cluster_router_degraded",
		"pagedkv_cluster_router_expected_hit_tokens_total", "pagedkv_cluster_router_prompt_tokens_total"))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.NoError(t, r.Finish(d.Ticket, FinishOptions{}))
}

func TestManagerCollector(t *testing.T) {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = 8, 4
	m, err := paged.New(cfg)
	require.NoError(t, err)
	prompt := seqTokens(9, 1)
	a, err := m.Add(prompt, paged.SeqOptions{})
	require.NoError(t, err)
	_, err = m.Reserve(a, len(prompt), 0, nil)
	require.NoError(t, err)
	require.NoError(t, m.MarkComputed(a, len(prompt)))
	b, err := m.Add(prompt, paged.SeqOptions{})
	require.NoError(t, err)
	hit, err := m.CachedPrefix(b)
	require.NoError(t, err)
	require.Equal(t, 8, hit)
	_, err = m.Reserve(b, len(prompt)-hit, 0, nil)
	require.NoError(t, err)

	c := NewManagerCollector(CollectorOptions{ConstLabels: prometheus.Labels{"model_name": "m"}})
	require.NoError(t, c.Add("0", m))
	require.ErrorIs(t, c.Add("0", m), ErrInvalidArgument)
	require.ErrorIs(t, c.Add("e\xff", m), ErrInvalidArgument, "label values must be UTF-8")
	want := `
# HELP pagedkv_kv_cache_blocks KV cache blocks by state (total, used, free, cached).
# TYPE pagedkv_kv_cache_blocks gauge
pagedkv_kv_cache_blocks{engine="0",model_name="m",state="cached"} 2
pagedkv_kv_cache_blocks{engine="0",model_name="m",state="free"} 4
pagedkv_kv_cache_blocks{engine="0",model_name="m",state="total"} 8
pagedkv_kv_cache_blocks{engine="0",model_name="m",state="used"} 4
# HELP pagedkv_sequences Live sequences.
# TYPE pagedkv_sequences gauge
pagedkv_sequences{engine="0",model_name="m"} 2
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 8
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 18
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "pagedkv_kv_cache_blocks",
		"pagedkv_sequences", "vllm:kv_cache_usage_perc", "vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"))
	require.Equal(t, 18, testutil.CollectAndCount(c))
	// Lint: only vLLM's colon names are flagged (reserved for recording rules, as in vLLM).
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	for _, p := range problems {
		require.True(t, strings.HasPrefix(p.Metric, "vllm:"), "%+v", p)
	}
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	_, err = reg.Gather()
	require.NoError(t, err)
}

// The manager's event queue: its depth and the events a full queue dropped.
func TestManagerCollectorEvents(t *testing.T) {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = 16, 4
	cfg.Events = paged.EventOptions{Enabled: true, QueueSize: 1} // one event queued, the rest dropped
	m, err := paged.New(cfg)
	require.NoError(t, err)
	for i := range 3 {
		prompt := seqTokens(9, int32(100*i))
		id, err := m.Add(prompt, paged.SeqOptions{})
		require.NoError(t, err)
		_, err = m.Reserve(id, len(prompt), 0, nil)
		require.NoError(t, err)
		require.NoError(t, m.MarkComputed(id, len(prompt)))
	}
	st := m.Stats()
	require.Equal(t, 1, st.EventsQueued)
	require.Equal(t, uint64(2), st.EventsDropped)
	c := NewManagerCollector(CollectorOptions{})
	require.NoError(t, c.Add("0", m))
	want := `
# HELP pagedkv_kv_events_dropped_total KV events dropped because the manager's queue was full (subscribers must resync).
# TYPE pagedkv_kv_events_dropped_total counter
pagedkv_kv_events_dropped_total{engine="0"} 2
# HELP pagedkv_kv_events_queued KV events queued in the manager, waiting for TakeEvents.
# TYPE pagedkv_kv_events_queued gauge
pagedkv_kv_events_queued{engine="0"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "pagedkv_kv_events_queued", "pagedkv_kv_events_dropped_total"))
	evs, dropped := m.TakeEvents(nil)
	require.Len(t, evs, 1)
	require.Equal(t, uint64(2), dropped)
	require.Equal(t, 0, m.Stats().EventsQueued)
}

// The collector's per-engine series follow the engine set.
func TestRouterCollectorMembership(t *testing.T) {
	r := newRouter(t, RouterConfig{Policy: PolicyLoad, Hash: HashConfig{BlockSize: 4}})
	c := NewRouterCollector(r, CollectorOptions{})
	var tickets []Ticket
	for i := range 3 {
		tickets = append(tickets, route(t, r, seqTokens(8, int32(10*i)), RouteOptions{}).Ticket)
	}
	series := func() string {
		var b strings.Builder
		for _, e := range r.Engines() {
			n, _, _ := r.LoadOf(e)
			b.WriteString("pagedkv_cluster_router_active_requests{engine=\"" + string(e) + "\"} " + string(rune('0'+n)) + "\n")
		}
		return "# HELP pagedkv_cluster_router_active_requests Requests routed to the engine and not finished.\n" +
			"# TYPE pagedkv_cluster_router_active_requests gauge\n" + b.String()
	}
	require.Equal(t, 6, testutil.CollectAndCount(c, "pagedkv_cluster_router_active_requests", "pagedkv_cluster_router_active_blocks"))
	require.NoError(t, r.RemoveEngine("b")) // b still has a request outstanding
	require.Equal(t, 4, testutil.CollectAndCount(c, "pagedkv_cluster_router_active_requests", "pagedkv_cluster_router_active_blocks"))
	require.NoError(t, r.AddEngine("e"))
	want := series()
	require.Contains(t, want, `{engine="e"} 0`)
	require.NotContains(t, want, `"b"`)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "pagedkv_cluster_router_active_requests"))
	for _, tk := range tickets {
		require.NoError(t, r.Finish(tk, FinishOptions{}))
	}
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
}
