package kvfeed

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector for the KV-event path into a cluster index:
// Adapters (label "adapter"), the kvevents.Subscribers feeding them (labels
// "subscriber" and "engine", one series per engine followed) and, on the engine
// side, kvevents.Publishers (label "engine"). Every value is read at scrape time
// from the Stats of what was added. It lives here, not in kvevents, so that kvevents
// does not depend on Prometheus' client. Metrics:
//
//	pagedkv_kv_feed_batches_total{adapter}                       counter  batches handed to the feed
//	pagedkv_kv_feed_events_total{adapter}                        counter  events handed to the feed
//	pagedkv_kv_feed_skipped_events_total{adapter}                counter  events not indexed (unknown type or medium)
//	pagedkv_kv_feed_notices_total{adapter,kind}                  counter  gap_lost, restarted, cleared, gap_recovered
//	pagedkv_kv_feed_refused_total{adapter}                       counter  updates the feed refused
//	pagedkv_kv_subscriber_synced{subscriber,engine}              gauge    1 once the stream was joined
//	pagedkv_kv_subscriber_next_seq{subscriber,engine}            gauge    next sequence number to apply
//	pagedkv_kv_subscriber_replaying{subscriber,engine}           gauge    1 while a replay is in flight
//	pagedkv_kv_subscriber_received_batches_total{...,source}     counter  batches received, live or replay
//	pagedkv_kv_subscriber_applied_batches_total                  counter  batches delivered as Applied
//	pagedkv_kv_subscriber_duplicate_batches_total                counter  batches received twice, applied once
//	pagedkv_kv_subscriber_gaps_total                             counter  gaps in the live stream
//	pagedkv_kv_subscriber_replays_total                          counter  replay requests made
//	pagedkv_kv_subscriber_replay_failures_total                  counter  replays that timed out or failed
//	pagedkv_kv_subscriber_lost_batches_total                     counter  sequence numbers reported lost
//	pagedkv_kv_subscriber_undecodable_batches_total              counter  batches that did not decode (also lost)
//	pagedkv_kv_subscriber_restarts_total                         counter  publisher restarts detected
//	pagedkv_kv_subscriber_dropped_pending_batches_total          counter  live batches dropped beyond MaxPending
//	pagedkv_kv_subscriber_bad_frames_total                       counter  live messages not [topic, seq, payload]
//	pagedkv_kv_subscriber_connect_failures_total                 counter  failed connections (not ZeroMQ, ...)
//	pagedkv_kv_publisher_published_batches_total{engine}         counter  batches given a sequence number
//	pagedkv_kv_publisher_skipped_batches_total{engine}           counter  batches SkipSend kept off the wire
//	pagedkv_kv_publisher_buffered_batches{engine}                gauge    batches in the replay buffer
//	pagedkv_kv_publisher_replay_requests_total{engine}           counter  replay requests served
//	pagedkv_kv_publisher_replayed_batches_total{engine}          counter  batches sent in replies
//	pagedkv_kv_publisher_bad_replay_requests_total{engine}       counter  malformed replay requests
//	pagedkv_kv_publisher_handshake_failures_total{engine}        counter  connections that failed ZMTP's handshake
//
// Adapter.Stats().LastError is not exported: a message is not a value, and as a
// label it would make a new series per message (refused_total counts them).
type Collector struct {
	mu   sync.Mutex
	ads  []named[*Adapter]
	subs []named[*kvevents.Subscriber]
	pubs []named[*kvevents.Publisher]

	// Adapter.
	fBatches, fEvents, fSkipped, fNotices, fRefused *prometheus.Desc
	// Subscriber, per engine.
	sSynced, sNext, sReplaying, sReceived, sApplied, sDup, sGaps, sReplays, sReplayFail *prometheus.Desc
	sLost, sUndecodable, sRestarts, sDropped, sBadFrames, sConnFail                     *prometheus.Desc
	// Publisher.
	pPublished, pSkipped, pBuffered, pRequests, pReplayed, pBadRequests, pHandshakes *prometheus.Desc
}

type named[T any] struct {
	name string
	src  T
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns an empty collector (opts.ConstLabels are added to every
// metric; opts.Timeout is unused: every Stats read is in memory). Add what it
// should export, then register it with a prometheus.Registerer.
func NewCollector(opts cluster.CollectorOptions) *Collector {
	d := func(prefix string, labels []string) func(name, help string, extra ...string) *prometheus.Desc {
		return func(name, help string, extra ...string) *prometheus.Desc {
			return prometheus.NewDesc(prefix+name, help, append(append([]string(nil), labels...), extra...), opts.ConstLabels)
		}
	}
	f := d("pagedkv_kv_feed_", []string{"adapter"})
	s := d("pagedkv_kv_subscriber_", []string{"subscriber", "engine"})
	p := d("pagedkv_kv_publisher_", []string{"engine"})
	return &Collector{
		fBatches: f("batches_total", "Event batches the adapter handed to the feed."),
		fEvents:  f("events_total", "Events the adapter handed to the feed."),
		fSkipped: f("skipped_events_total", "Events not indexed: unknown event types and media not in Config.Media."),
		fNotices: f("notices_total", "Subscriber notices handled, by kind: gap_lost and restarted (the engine's entries are dropped), cleared, gap_recovered.", "kind"),
		fRefused: f("refused_total", "Updates the feed refused: engine names the index does not accept, batches too large to queue, a closed feed."),

		sSynced:      s("synced", "1 once the engine's stream was joined (its next sequence number is known)."),
		sNext:        s("next_seq", "Next sequence number to apply (a restarted subscriber resumes there)."),
		sReplaying:   s("replaying", "1 while a replay is in flight."),
		sReceived:    s("received_batches_total", "Batches received, by source: the PUB socket (live) or the replay socket (replay).", "source"),
		sApplied:     s("applied_batches_total", "Batches delivered to the handler, each once, in sequence order."),
		sDup:         s("duplicate_batches_total", "Batches received both live and by replay, delivered once."),
		sGaps:        s("gaps_total", "Gaps detected in the live stream."),
		sReplays:     s("replays_total", "Replay requests made."),
		sReplayFail:  s("replay_failures_total", "Replays that timed out or failed."),
		sLost:        s("lost_batches_total", "Sequence numbers reported lost (never to be applied)."),
		sUndecodable: s("undecodable_batches_total", "Batches that arrived but did not decode (counted as lost too)."),
		sRestarts:    s("restarts_total", "Publisher restarts detected (the sequence went back)."),
		sDropped:     s("dropped_pending_batches_total", "Live batches dropped because MaxPending were held during a replay."),
		sBadFrames:   s("bad_frames_total", "Live messages not shaped [topic, seq, payload]."),
		sConnFail:    s("connect_failures_total", "Failed connections to the PUB endpoint (a peer that is not ZeroMQ, an endpoint that cannot be dialed)."),

		pPublished:   p("published_batches_total", "Batches given a sequence number."),
		pSkipped:     p("skipped_batches_total", "Batches buffered for replay but kept off the PUB socket by SkipSend."),
		pBuffered:    p("buffered_batches", "Batches in the replay buffer."),
		pRequests:    p("replay_requests_total", "Well-formed replay requests served."),
		pReplayed:    p("replayed_batches_total", "Batches sent in replay replies."),
		pBadRequests: p("bad_replay_requests_total", "Replay requests not shaped [identity, empty, start seq]."),
		pHandshakes:  p("handshake_failures_total", "Connections to the PUB or replay socket that failed the ZMTP handshake (a peer that is not ZeroMQ)."),
	}
}

// add appends src under name unless the name is empty or taken or src is nil.
func add[T comparable](c *Collector, list *[]named[T], what, name string, src T) error {
	var zero T
	if name == "" || src == zero {
		return fmt.Errorf("%w: %s needs a name and a non-nil value", cluster.ErrInvalidArgument, what)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: %s name %q is not valid UTF-8 (a Prometheus label value)", cluster.ErrInvalidArgument, what, name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range *list {
		if x.name == name {
			return fmt.Errorf("%w: %s %q already added", cluster.ErrInvalidArgument, what, name)
		}
	}
	*list = append(*list, named[T]{name, src})
	return nil
}

// Add exports an adapter's Stats under adapter=name. An empty name, a nil adapter
// or a name already added is an error (cluster.ErrInvalidArgument): Prometheus
// would reject the duplicate series at scrape time.
func (c *Collector) Add(name string, a *Adapter) error { return add(c, &c.ads, "adapter", name, a) }

// AddSubscriber exports the status of every engine s follows, read at each scrape
// (engines added or removed later appear or disappear), under subscriber=name and
// engine=the Endpoint's Engine. Errors as Add.
func (c *Collector) AddSubscriber(name string, s *kvevents.Subscriber) error {
	return add(c, &c.subs, "subscriber", name, s)
}

// AddPublisher exports a publisher's Stats under engine=name. Errors as Add.
func (c *Collector) AddPublisher(engine string, p *kvevents.Publisher) error {
	return add(c, &c.pubs, "publisher", engine, p)
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.fBatches, c.fEvents, c.fSkipped, c.fNotices, c.fRefused,
		c.sSynced, c.sNext, c.sReplaying, c.sReceived, c.sApplied, c.sDup, c.sGaps, c.sReplays, c.sReplayFail,
		c.sLost, c.sUndecodable, c.sRestarts, c.sDropped, c.sBadFrames, c.sConnFail,
		c.pPublished, c.pSkipped, c.pBuffered, c.pRequests, c.pReplayed, c.pBadRequests, c.pHandshakes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	ads, subs, pubs := append([]named[*Adapter](nil), c.ads...), append([]named[*kvevents.Subscriber](nil), c.subs...),
		append([]named[*kvevents.Publisher](nil), c.pubs...)
	c.mu.Unlock()
	// Label values must be UTF-8: names are checked by add, but a subscriber's engine
	// names are its endpoints', which may not be; invalid bytes become U+FFFD rather
	// than failing the whole scrape.
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, validLabels(l)...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), validLabels(l)...)
	}
	for _, a := range ads {
		s, n := a.src.Stats(), a.name
		counter(c.fBatches, s.Batches, n)
		counter(c.fEvents, s.Events, n)
		counter(c.fSkipped, s.SkippedEvents, n)
		counter(c.fNotices, s.Losses, n, "gap_lost")
		counter(c.fNotices, s.Restarts, n, "restarted")
		counter(c.fNotices, s.Clears, n, "cleared")
		counter(c.fNotices, s.Recovered, n, "gap_recovered")
		counter(c.fRefused, s.Refused, n)
	}
	for _, sub := range subs {
		for _, st := range sub.src.Statuses() {
			l := []string{sub.name, st.Engine}
			s := st.Stats
			gauge(c.sSynced, b2f(st.Synced), l...)
			gauge(c.sNext, float64(st.NextSeq), l...)
			gauge(c.sReplaying, b2f(st.Replaying), l...)
			counter(c.sReceived, s.Live, sub.name, st.Engine, "live")
			counter(c.sReceived, s.ReplayedBatches, sub.name, st.Engine, "replay")
			counter(c.sApplied, s.Applied, l...)
			counter(c.sDup, s.Duplicates, l...)
			counter(c.sGaps, s.Gaps, l...)
			counter(c.sReplays, s.Replays, l...)
			counter(c.sReplayFail, s.ReplayFailures, l...)
			counter(c.sLost, s.Lost, l...)
			counter(c.sUndecodable, s.Undecodable, l...)
			counter(c.sRestarts, s.Restarts, l...)
			counter(c.sDropped, s.DroppedPending, l...)
			counter(c.sBadFrames, s.BadFrames, l...)
			counter(c.sConnFail, s.ConnectFailures, l...)
		}
	}
	for _, p := range pubs {
		s, n := p.src.Stats(), p.name
		counter(c.pPublished, s.Published, n)
		counter(c.pSkipped, s.Skipped, n)
		gauge(c.pBuffered, float64(s.Buffered), n)
		counter(c.pRequests, s.ReplayRequests, n)
		counter(c.pReplayed, s.ReplayedBatches, n)
		counter(c.pBadRequests, s.BadRequests, n)
		counter(c.pHandshakes, s.HandshakeFailures, n)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// validLabels replaces invalid UTF-8 in label values by U+FFFD, in place.
func validLabels(l []string) []string {
	for i, v := range l {
		if !utf8.ValidString(v) {
			l[i] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	return l
}
