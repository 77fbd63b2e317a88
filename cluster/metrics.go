package cluster

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CollectorOptions configure the Prometheus collectors of this package.
type CollectorOptions struct {
	// ConstLabels are added to every metric (e.g. {"model_name": "..."}, as vLLM
	// labels its own).
	ConstLabels prometheus.Labels
	// Timeout bounds one Stats call of an index per scrape. Default 1s.
	Timeout time.Duration
}

// IndexCollector is a prometheus.Collector for an Index's Stats, read at every
// scrape. Metrics (all prefixed pagedkv_cluster_index_):
//
//	up                       gauge    1 if the last Stats call succeeded (0: Redis down)
//	keys                     gauge    block keys held
//	entries                  gauge    (key, engine, tier) entries (memory only)
//	engines{state}           gauge    engines live, behind (gap open), stale
//	batches_total{outcome}   counter  applied, duplicate, gap, refused batches
//	replayed_batches_total   counter  batches applied while closing a gap
//	events_total             counter  events applied
//	blocks_stored_total      counter  blocks stored
//	blocks_removed_total     counter  blocks removed
//	clears_total             counter  Cleared events applied
//	engine_drops_total       counter  engines whose entries were discarded
//	resyncs_total            counter  Resync calls
//	marked_stale_total       counter  MarkStale calls
//	evictions_total          counter  keys evicted for capacity (memory)
type IndexCollector struct {
	idx     Index
	timeout time.Duration
	up, keys, entries, engines, batches, replayed, events, stored, removed,
	clears, drops, resyncs, stale, evictions *prometheus.Desc
}

var _ prometheus.Collector = (*IndexCollector)(nil)

// NewIndexCollector returns a collector for idx; register it with a
// prometheus.Registerer.
func NewIndexCollector(idx Index, opts CollectorOptions) *IndexCollector {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pagedkv_cluster_index_"+name, help, labels, opts.ConstLabels)
	}
	return &IndexCollector{
		idx: idx, timeout: opts.Timeout,
		up:        d("up", "1 if the index answered the last stats query, 0 if it is unreachable."),
		keys:      d("keys", "Block keys held by the index."),
		entries:   d("entries", "Entries (block key, engine, tier) held by the index."),
		engines:   d("engines", "Engines known to the index, by state.", "state"),
		batches:   d("batches_total", "Event batches offered to the index, by outcome.", "outcome"),
		replayed:  d("replayed_batches_total", "Batches applied while an engine was closing a sequence gap."),
		events:    d("events_total", "Events applied."),
		stored:    d("blocks_stored_total", "Blocks stored (BlockStored hashes applied)."),
		removed:   d("blocks_removed_total", "Blocks removed (BlockRemoved hashes applied)."),
		clears:    d("clears_total", "AllBlocksCleared events applied."),
		drops:     d("engine_drops_total", "Engines whose entries were discarded (drop, or resync that could not continue)."),
		resyncs:   d("resyncs_total", "Engine resyncs."),
		stale:     d("marked_stale_total", "Engines marked stale."),
		evictions: d("evictions_total", "Block keys evicted to stay within capacity."),
	}
}

// Describe implements prometheus.Collector.
func (c *IndexCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.keys, c.entries, c.engines, c.batches, c.replayed, c.events,
		c.stored, c.removed, c.clears, c.drops, c.resyncs, c.stale, c.evictions} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. When Stats fails only up (0) is sent.
func (c *IndexCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.idx.Stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	gauge(c.up, 1)
	gauge(c.keys, float64(s.Keys))
	if s.Entries >= 0 {
		gauge(c.entries, float64(s.Entries))
	}
	gauge(c.engines, float64(s.Live), "live")
	gauge(c.engines, float64(s.Behind), "behind")
	gauge(c.engines, float64(s.Stale), "stale")
	counter(c.batches, s.Applied, Applied.String())
	counter(c.batches, s.Duplicates, Duplicate.String())
	counter(c.batches, s.Gaps, Gap.String())
	counter(c.batches, s.Refused, Refused.String())
	counter(c.replayed, s.Replayed)
	counter(c.events, s.Events)
	counter(c.stored, s.BlocksStored)
	counter(c.removed, s.BlocksRemoved)
	counter(c.clears, s.Clears)
	counter(c.drops, s.Drops)
	counter(c.resyncs, s.Resyncs)
	counter(c.stale, s.MarkedStale)
	counter(c.evictions, s.Evictions)
}

// RouterCollector is a prometheus.Collector for a Router. Metrics (prefixed
// pagedkv_cluster_router_):
//
//	decisions_total{policy}           counter  requests routed
//	degraded_decisions_total{policy}  counter  requests routed on load alone (index down)
//	degraded{policy}                  gauge    1 while predictions fail
//	expected_hit_tokens_total         counter  cached prefix tokens expected on the chosen engines
//	prompt_tokens_total               counter  prompt tokens routed
//	active_requests{engine}           gauge    outstanding requests per engine
//	active_blocks{engine}             gauge    outstanding blocks per engine (the cost's decode load)
//
// The per-engine series cover the present engines at scrape time: a removed
// engine's series disappear with RemoveEngine (even while requests routed to it
// are outstanding), an added engine's appear.
type RouterCollector struct {
	r                                                                   *Router
	decisions, degradedDecisions, degraded, hits, prompts, reqs, blocks *prometheus.Desc
}

var _ prometheus.Collector = (*RouterCollector)(nil)

// NewRouterCollector returns a collector for r.
func NewRouterCollector(r *Router, opts CollectorOptions) *RouterCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pagedkv_cluster_router_"+name, help, labels, opts.ConstLabels)
	}
	return &RouterCollector{r: r,
		decisions:         d("decisions_total", "Requests routed.", "policy"),
		degradedDecisions: d("degraded_decisions_total", "Requests routed on load alone because predictions failed.", "policy"),
		degraded:          d("degraded", "1 while the router routes on load alone because predictions fail.", "policy"),
		hits:              d("expected_hit_tokens_total", "Cached prefix tokens expected on the chosen engines."),
		prompts:           d("prompt_tokens_total", "Prompt tokens routed."),
		reqs:              d("active_requests", "Requests routed to the engine and not finished.", "engine"),
		blocks:            d("active_blocks", "KV blocks of the engine's outstanding requests (prompt and expected output).", "engine"),
	}
}

// Describe implements prometheus.Collector.
func (c *RouterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.decisions, c.degradedDecisions, c.degraded, c.hits, c.prompts, c.reqs, c.blocks} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *RouterCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Status()
	p := string(s.Policy)
	deg := 0.0
	if s.Degraded {
		deg = 1
	}
	ch <- prometheus.MustNewConstMetric(c.decisions, prometheus.CounterValue, float64(s.Decisions), p)
	ch <- prometheus.MustNewConstMetric(c.degradedDecisions, prometheus.CounterValue, float64(s.DegradedDecisions), p)
	ch <- prometheus.MustNewConstMetric(c.degraded, prometheus.GaugeValue, deg, p)
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(s.HitTokens))
	ch <- prometheus.MustNewConstMetric(c.prompts, prometheus.CounterValue, float64(s.PromptTokens))
	for _, l := range c.r.loads(nil) {
		ch <- prometheus.MustNewConstMetric(c.reqs, prometheus.GaugeValue, float64(l.requests), string(l.engine))
		ch <- prometheus.MustNewConstMetric(c.blocks, prometheus.GaugeValue, float64(l.blocks), string(l.engine))
	}
}
