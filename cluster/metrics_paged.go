package cluster

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/prometheus/client_golang/prometheus"
)

// StatsSource is what the manager collector reads: *paged.Manager implements it.
type StatsSource interface {
	Stats() paged.Stats
}

// ManagerCollector is a prometheus.Collector for paged.Managers (one per engine, label
// "engine"), built on paged.Stats and read at every scrape. Names follow vLLM's where
// vLLM has the metric (its V1 names; counters end in _total as Python's client
// exposes them), pagedkv_ otherwise:
//
//	vllm:kv_cache_usage_perc        gauge    used blocks / all blocks (0..1)
//	vllm:gpu_cache_usage_perc       gauge    the same under vLLM V0's name
//	vllm:prefix_cache_queries_total counter  prompt tokens looked up in the prefix cache
//	vllm:prefix_cache_hits_total    counter  of those, tokens found cached
//	pagedkv_prefix_cache_requests_total        counter  requests looked up
//	pagedkv_prefix_cache_recent_hit_rate       gauge    token hit rate over the recent window
//	pagedkv_kv_cache_blocks{state}             gauge    total, used, free, cached blocks
//	pagedkv_sequences                          gauge    live sequences
//	pagedkv_prefix_cache_evictions_total       counter  cached blocks evicted by reuse
//	pagedkv_copy_on_writes_total               counter  block copies for copy-on-write
//	pagedkv_swaps_total{direction}             counter  sequences swapped out / in
//	pagedkv_host_free_blocks                   gauge    free host-tier blocks
//	pagedkv_kv_events_queued                   gauge    events waiting for TakeEvents
//	pagedkv_kv_events_dropped_total            counter  events dropped by a full queue
type ManagerCollector struct {
	mu      sync.Mutex
	sources []managerSource

	usage, usageV0, queries, hits, requests, recent, blocks, seqs, evictions, cows, swaps, hostFree *prometheus.Desc
	eventsQueued, eventsDropped                                                                     *prometheus.Desc
}

type managerSource struct {
	engine string
	src    StatsSource
}

var _ prometheus.Collector = (*ManagerCollector)(nil)

// NewManagerCollector returns an empty collector; Add managers to it.
func NewManagerCollector(opts CollectorOptions) *ManagerCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{"engine"}, labels...), opts.ConstLabels)
	}
	return &ManagerCollector{
		usage:        d("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage."),
		usageV0:      d("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage (vLLM V0 name)."),
		queries:      d("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens."),
		hits:         d("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens."),
		requests:     d("pagedkv_prefix_cache_requests_total", "Requests looked up in the prefix cache."),
		recent:       d("pagedkv_prefix_cache_recent_hit_rate", "Prefix cache token hit rate over the most recent requests."),
		blocks:       d("pagedkv_kv_cache_blocks", "KV cache blocks by state (total, used, free, cached).", "state"),
		seqs:         d("pagedkv_sequences", "Live sequences."),
		evictions:    d("pagedkv_prefix_cache_evictions_total", "Cached blocks that lost their hash by being reused."),
		cows:         d("pagedkv_copy_on_writes_total", "Block copies returned for copy-on-write."),
		swaps:        d("pagedkv_swaps_total", "Sequences swapped to (out) or from (in) the host tier.", "direction"),
		hostFree:     d("pagedkv_host_free_blocks", "Free blocks of the host tier."),
		eventsQueued: d("pagedkv_kv_events_queued", "KV events queued in the manager, waiting for TakeEvents."),
		eventsDropped: d("pagedkv_kv_events_dropped_total",
			"KV events dropped because the manager's queue was full (subscribers must resync)."),
	}
}

// Add registers a manager under an engine label. Adding a label twice is an error
// (ErrInvalidArgument): Prometheus would reject the duplicate series at scrape time.
func (c *ManagerCollector) Add(engine string, src StatsSource) error {
	if !utf8.ValidString(engine) {
		return fmt.Errorf("%w: engine %q is not valid UTF-8 (a Prometheus label value)", ErrInvalidArgument, engine)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sources {
		if s.engine == engine {
			return fmt.Errorf("%w: engine %q already added", ErrInvalidArgument, engine)
		}
	}
	c.sources = append(c.sources, managerSource{engine, src})
	return nil
}

// Describe implements prometheus.Collector.
func (c *ManagerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.usage, c.usageV0, c.queries, c.hits, c.requests, c.recent, c.blocks,
		c.seqs, c.evictions, c.cows, c.swaps, c.hostFree, c.eventsQueued, c.eventsDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ManagerCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := append([]managerSource(nil), c.sources...)
	c.mu.Unlock()
	for _, s := range sources {
		st := s.src.Stats()
		e := s.engine
		g := func(d *prometheus.Desc, v float64, l ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{e}, l...)...)
		}
		k := func(d *prometheus.Desc, v uint64, l ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{e}, l...)...)
		}
		g(c.usage, st.Usage)
		g(c.usageV0, st.Usage)
		k(c.queries, st.PrefixQueries)
		k(c.hits, st.PrefixHits)
		k(c.requests, st.PrefixRequests)
		g(c.recent, st.RecentHitRate)
		g(c.blocks, float64(st.NumBlocks), "total")
		g(c.blocks, float64(st.UsedBlocks), "used")
		g(c.blocks, float64(st.FreeBlocks), "free")
		g(c.blocks, float64(st.CachedBlocks), "cached")
		g(c.seqs, float64(st.Sequences))
		k(c.evictions, st.Evictions)
		k(c.cows, st.CopyOnWrites)
		k(c.swaps, st.SwapOuts, "out")
		k(c.swaps, st.SwapIns, "in")
		g(c.hostFree, float64(st.HostFree))
		g(c.eventsQueued, float64(st.EventsQueued))
		k(c.eventsDropped, st.EventsDropped)
	}
}
