package cluster

import "github.com/prometheus/client_golang/prometheus"

// FeedCollector is a prometheus.Collector for a Feed's Stats, read at every scrape.
// The index's own view (batches by outcome, drops, resyncs) is IndexCollector's;
// this one shows the path to it. Metrics (prefixed pagedkv_cluster_feed_):
//
//	engines                   gauge    engines seen
//	queued_ops                gauge    batches and engine operations waiting (queue depth)
//	queued_hashes             gauge    block hashes waiting
//	unavailable               gauge    1 while index calls fail and the feed retries
//	index_calls_total         counter  ApplyBatches calls
//	batches_total{outcome}    counter  batches applied, or found already applied (duplicate)
//	engine_ops_total{op}      counter  restarts, losses, losses covered by the index, drops
//	resyncs_total             counter  Resync calls (restarts, losses, overflows, gaps)
//	overflows_total           counter  engine queues discarded for exceeding a bound
//	discarded_batches_total   counter  batches discarded (overflows, rejections, Close)
//	rejected_total            counter  batches and operations the index refused as invalid
//	errors_total              counter  failed index calls (retried)
type FeedCollector struct {
	f                                                                     *Feed
	engines, ops, hashes, unavailable, calls, batches, engineOps, resyncs *prometheus.Desc
	overflows, discarded, rejected, errors                                *prometheus.Desc
}

var _ prometheus.Collector = (*FeedCollector)(nil)

// NewFeedCollector returns a collector for f.
func NewFeedCollector(f *Feed, opts CollectorOptions) *FeedCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pagedkv_cluster_feed_"+name, help, labels, opts.ConstLabels)
	}
	return &FeedCollector{f: f,
		engines:     d("engines", "Engines the feed has seen."),
		ops:         d("queued_ops", "Batches and engine operations waiting to be applied to the index."),
		hashes:      d("queued_hashes", "Block hashes waiting to be applied to the index."),
		unavailable: d("unavailable", "1 while index calls fail and the feed retries."),
		calls:       d("index_calls_total", "Index calls that apply batches."),
		batches:     d("batches_total", "Batches the index applied (applied) or had already applied (duplicate).", "outcome"),
		engineOps:   d("engine_ops_total", "Engine operations carried out: restarts, losses, losses the index had covered, drops.", "op"),
		resyncs:     d("resyncs_total", "Resync calls (restarts, losses, overflows, gaps)."),
		overflows:   d("overflows_total", "Engine queues discarded for exceeding a bound (the engine is resynced)."),
		discarded:   d("discarded_batches_total", "Batches discarded (queue overflows, rejections, Close)."),
		rejected:    d("rejected_total", "Batches and operations the index refused as invalid."),
		errors:      d("errors_total", "Failed index calls (retried)."),
	}
}

// Describe implements prometheus.Collector.
func (c *FeedCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.engines, c.ops, c.hashes, c.unavailable, c.calls, c.batches, c.engineOps,
		c.resyncs, c.overflows, c.discarded, c.rejected, c.errors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *FeedCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.f.Stats()
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	k := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	unavailable := 0.0
	if s.Unavailable {
		unavailable = 1
	}
	g(c.engines, float64(s.Engines))
	g(c.ops, float64(s.QueuedOps))
	g(c.hashes, float64(s.QueuedHashes))
	g(c.unavailable, unavailable)
	k(c.calls, s.Calls)
	k(c.batches, s.Applied, "applied")
	k(c.batches, s.Duplicates, "duplicate")
	k(c.engineOps, s.Restarts, "restart")
	k(c.engineOps, s.Losses, "loss")
	k(c.engineOps, s.LossesCovered, "loss_covered")
	k(c.engineOps, s.Drops, "drop")
	k(c.resyncs, s.Resyncs)
	k(c.overflows, s.Overflows)
	k(c.discarded, s.DiscardedBatches)
	k(c.rejected, s.Rejected)
	k(c.errors, s.Errors)
}
