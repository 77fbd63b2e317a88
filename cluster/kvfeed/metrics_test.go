package kvfeed_test

import (
	"context"

	"io"
	"log"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/cluster/kvfeed"
	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func stored(medium string, hashes ...uint64) kvevents.Event {
	ev := kvevents.Event{Type: kvevents.BlockStored, BlockSize: 4, Medium: kvevents.Some(medium)}
	for _, h := range hashes {
		ev.BlockHashes = append(ev.BlockHashes, kvevents.HashUint64(h))
		ev.TokenIDs = append(ev.TokenIDs, 1, 2, 3, 4)
	}
	return ev
}

// The collector over a real loopback run whose every count is known: a publisher
// that buffers 3 batches publishes 5 before a subscriber follows it twice, once as
// "pod-a" and once under a name the index refuses. Each catch-up replay from 0 finds
// 0 and 1 evicted (lost) and applies 2..4: a stored block, one on a medium the
// adapter skips, then a clear and a stored block. A peer that is not ZeroMQ and a
// malformed replay request reach the publisher.
func TestCollectorLoopback(t *testing.T) {
	pub := startPublisher(t, kvevents.PublisherConfig{BufferSteps: 3, Logger: log.New(io.Discard, "", 0)})
	for _, b := range []*kvevents.Batch{
		{Events: []kvevents.Event{stored("GPU", 1, 2)}},
		{Events: []kvevents.Event{stored("GPU", 3)}},
		{Events: []kvevents.Event{stored("GPU", 4)}},
		{Events: []kvevents.Event{stored("disk", 6)}},
		{Events: []kvevents.Event{{Type: kvevents.AllBlocksCleared}, stored("CPU", 5)}},
	} {
		_, err := pub.Publish(b)
		require.NoError(t, err)
	}
	idx, err := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	require.NoError(t, err)
	feed, err := cluster.NewFeed(cluster.FeedConfig{Index: idx})
	require.NoError(t, err)
	t.Cleanup(func() { _ = feed.Close() })
	a, err := kvfeed.New(kvfeed.Config{Feed: feed})
	require.NoError(t, err)
	sub, err := kvevents.NewSubscriber(context.Background(), kvevents.SubscriberConfig{Handler: a.Handle,
		DialRetry: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	for _, name := range []string{"pod-a", "pod b"} {
		require.NoError(t, sub.Add(kvevents.Endpoint{Engine: name, Pub: pub.Endpoint(), Replay: pub.ReplayEndpoint()}))
	}
	for _, name := range []string{"pod-a", "pod b"} {
		waitCond(t, name+" caught up", func() bool {
			st, _ := sub.Status(name)
			return st.NextSeq == 5 && !st.Replaying
		})
	}
	waitCond(t, "the adapter's notices", func() bool { s := a.Stats(); return s.Clears == 2 && s.Losses == 2 && s.Recovered == 2 })

	// A peer that is not ZeroMQ, and a replay request of one frame.
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(pub.Endpoint(), "tcp://"), time.Second)
	require.NoError(t, err)
	_, _ = c.Write([]byte(strings.Repeat("GET / HTTP/1.1\r\n", 8)))
	_ = c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := zmq4.NewDealer(ctx)
	defer d.Close()
	require.NoError(t, d.Dial(pub.ReplayEndpoint()))
	require.NoError(t, d.Send(zmq4.NewMsgFrom([]byte("bad"))))
	waitCond(t, "the publisher's counts", func() bool {
		s := pub.Stats()
		return s.HandshakeFailures == 1 && s.BadRequests == 1
	})
	require.NoError(t, feed.Flush(context.Background()))

	col := kvfeed.NewCollector(cluster.CollectorOptions{ConstLabels: prometheus.Labels{"model_name": "llama"}})
	require.NoError(t, col.Add("router", a))
	require.NoError(t, col.AddSubscriber("main", sub))
	require.NoError(t, col.AddPublisher("pod-a", pub))
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(col))

	want := `
# HELP pagedkv_kv_feed_batches_total Event batches the adapter handed to the feed.
# TYPE pagedkv_kv_feed_batches_total counter
pagedkv_kv_feed_batches_total{adapter="router",model_name="llama"} 3
# HELP pagedkv_kv_feed_events_total Events the adapter handed to the feed.
# TYPE pagedkv_kv_feed_events_total counter
pagedkv_kv_feed_events_total{adapter="router",model_name="llama"} 3
# HELP pagedkv_kv_feed_notices_total Subscriber notices handled, by kind: gap_lost and restarted (the engine's entries are dropped), cleared, gap_recovered.
# TYPE pagedkv_kv_feed_notices_total counter
pagedkv_kv_feed_notices_total{adapter="router",kind="cleared",model_name="llama"} 2
pagedkv_kv_feed_notices_total{adapter="router",kind="gap_lost",model_name="llama"} 2
pagedkv_kv_feed_notices_total{adapter="router",kind="gap_recovered",model_name="llama"} 2
pagedkv_kv_feed_notices_total{adapter="router",kind="restarted",model_name="llama"} 0
# HELP pagedkv_kv_feed_refused_total Updates the feed refused: engine names the index does not accept, batches too large to queue, a closed feed.
# TYPE pagedkv_kv_feed_refused_total counter
pagedkv_kv_feed_refused_total{adapter="router",model_name="llama"} 4
# HELP pagedkv_kv_feed_skipped_events_total Events not indexed: unknown event types and media not in Config.Media.
# TYPE pagedkv_kv_feed_skipped_events_total counter
pagedkv_kv_feed_skipped_events_total{adapter="router",model_name="llama"} 2
# HELP pagedkv_kv_publisher_bad_replay_requests_total Replay requests not shaped [identity, empty, start seq].
# TYPE pagedkv_kv_publisher_bad_replay_requests_total counter
pagedkv_kv_publisher_bad_replay_requests_total{engine="pod-a",model_name="llama"} 1
# HELP pagedkv_kv_publisher_buffered_batches Batches in the replay buffer.
# TYPE pagedkv_kv_publisher_buffered_batches gauge
pagedkv_kv_publisher_buffered_batches{engine="pod-a",model_name="llama"} 3
# HELP pagedkv_kv_publisher_handshake_failures_total Connections to the PUB or replay socket that failed the ZMTP handshake (a peer that is not ZeroMQ).
# TYPE pagedkv_kv_publisher_handshake_failures_total counter
pagedkv_kv_publisher_handshake_failures_total{engine="pod-a",model_name="llama"} 1
# HELP pagedkv_kv_publisher_published_batches_total Batches given a sequence number.
# TYPE pagedkv_kv_publisher_published_batches_total counter
pagedkv_kv_publisher_published_batches_total{engine="pod-a",model_name="llama"} 5
# HELP pagedkv_kv_publisher_replay_requests_total Well-formed replay requests served.
# TYPE pagedkv_kv_publisher_replay_requests_total counter
pagedkv_kv_publisher_replay_requests_total{engine="pod-a",model_name="llama"} 2
# HELP pagedkv_kv_publisher_replayed_batches_total Batches sent in replay replies.
# TYPE pagedkv_kv_publisher_replayed_batches_total counter
pagedkv_kv_publisher_replayed_batches_total{engine="pod-a",model_name="llama"} 6
# HELP pagedkv_kv_publisher_skipped_batches_total Batches buffered for replay but kept off the PUB socket by SkipSend.
# TYPE pagedkv_kv_publisher_skipped_batches_total counter
pagedkv_kv_publisher_skipped_batches_total{engine="pod-a",model_name="llama"} 0
# HELP pagedkv_kv_subscriber_applied_batches_total Batches delivered to the handler, each once, in sequence order.
# TYPE pagedkv_kv_subscriber_applied_batches_total counter
pagedkv_kv_subscriber_applied_batches_total{engine="pod b",model_name="llama",subscriber="main"} 3
pagedkv_kv_subscriber_applied_batches_total{engine="pod-a",model_name="llama",subscriber="main"} 3
# HELP pagedkv_kv_subscriber_bad_frames_total Live messages not shaped [topic, seq, payload].
# TYPE pagedkv_kv_subscriber_bad_frames_total counter
pagedkv_kv_subscriber_bad_frames_total{engine="pod b",model_name="llama",subscriber="main"} 0
pagedkv_kv_subscriber_bad_frames_total{engine="pod-a",model_name="llama",subscriber="main"} 0
# HELP pagedkv_kv_subscriber_connect_failures_total Failed connections to the PUB endpoint (a peer that is not ZeroMQ, an endpoint that cannot be dialed).
# TYPE pagedkv_kv_subscriber_connect_failures_total counter
pagedkv_kv_subscriber_connect_failures_total{engine="pod b",model_name="llama",subscriber="main"} 0
pagedkv_kv_subscriber_connect_failures_total{engine="pod-a",model_name="llama",subscriber="main"} 0
# HELP pagedkv_kv_subscriber_dropped_pending_batches_total Live batches dropped because MaxPending were held during a replay.
# TYPE pagedkv_kv_subscriber_dropped_pending_batches_total counter
pagedkv_kv_subscriber_dropped_pending_batches_total{engine="pod b",model_name="llama",subscriber="main"} 0
pagedkv_kv_subscriber_dropped_pending_batches_total{engine="pod-a",model_name="llama",subscriber="main"} 0
# HELP pagedkv_kv_subscriber_duplicate_batches_total Batches received both live and by replay, delivered once.
# TYPE pagedkv_kv_subscriber_duplicate_batches_total counter
pagedkv_kv_subscriber_duplicate_batches_total{engine="pod b",model_name="llama",subscriber="main"} 0
pagedkv_kv_subscriber_duplicate_batches_total{engine="pod-a",model_name="llama",subscriber="main"} 0
# HELP pagedkv_kv_subscriber_gaps_total Gaps detected in the live stream.
# TYPE pagedkv_kv_subscriber_gaps_total counter
pagedkv_kv_subscriber_gaps_total{engine="pod b",model_name="llama",subscriber="main"} 0
pagedkv_kv_subscriber_gaps_total{engine="pod-a",model_name="llama",subscriber="main"} 0
# HELP pagedkv_kv_subscriber_lost_batches_total Sequence numbers reported lost (never to be applied).
# TYPE pagedkv_kv_subscriber_lost_batches_total counter
pagedkv_kv_subscriber_lost_batches_total{engine="pod b",model_name="llama",subscriber="main"} 2
pagedkv_kv_subscriber_lost_batches_total{engine="pod-a",model_name="llama",subscriber="main"} 2
# HELP pagedkv_kv_subscriber_next_seq Next sequence number to apply (a restarted subscriber resumes there).
# TYPE pagedkv_kv_subscriber_next_seq gauge
pagedkv_kv_subscriber_next_seq{engine="pod b",model_name="llama",subscriber="main"} 5
pagedkv_kv_subscriber_next_seq{engine="pod-a",model_name="llama",subscriber="main"} 5
# HELP pagedkv_kv_subscriber_received_batches_total Batches received, by source: the PUB socket (live) or the replay socket (replay).
# TYPE pagedkv_kv_subscriber_received_batches_total counter
pagedkv_kv_subscriber_received_batches_total{engine="pod b",model_name="llama",source="live",subscriber="main"} 0
pagedkv_kv_subscriber_received_batches_total{engine="pod b",model_name="llama",source="replay",subscriber="main"} 3
pagedkv_kv_subscriber_received_batches_total{engine="pod-a",model_name="llama",source="live",subscriber="main"} 0
pagedkv_kv_subscriber_received_batches_total{engine="pod-a",model_name="llama",source="replay",subscriber="main"} 3
# HELP pagedkv_kv_subscriber_replay_failures_total Replays that timed out or failed.
# TYPE pagedkv_kv_subscriber_replay_failures_total counter
pagedkv_kv_subscriber_replay_failures_total{engine="pod b",model_name="llama",subscriber="main"} 0
pagedkv_kv_subscriber_replay_failures_total{engine="pod-a",model_name="llama",subscriber="main"} 0
# HELP pagedkv_kv_subscriber_replaying 1 while a replay is in flight.
# TYPE pagedkv_kv_subscriber_replaying gauge
pagedkv_kv_subscriber_replaying{engine="pod b",model_name="llama",subscriber="main"} 0
pagedkv_kv_subscriber_replaying{engine="pod-a",model_name="llama",subscriber="main"} 0
# HELP pagedkv_kv_subscriber_replays_total Replay requests made.
# TYPE pagedkv_kv_subscriber_replays_total counter
pagedkv_kv_subscriber_replays_total{engine="pod b",model_name="llama",subscriber="main"} 1
pagedkv_kv_subscriber_replays_total{engine="pod-a",model_name="llama",subscriber="main"} 1
# HELP pagedkv_kv_subscriber_restarts_total Publisher restarts detected (the sequence went back).
# TYPE pagedkv_kv_subscriber_restarts_total counter
pagedkv_kv_subscriber_restarts_total{engine="pod b",model_name="llama",subscriber="main"} 0
pagedkv_kv_subscriber_restarts_total{engine="pod-a",model_name="llama",subscriber="main"} 0
# HELP pagedkv_kv_subscriber_synced 1 once the engine's stream was joined (its next sequence number is known).
# TYPE pagedkv_kv_subscriber_synced gauge
pagedkv_kv_subscriber_synced{engine="pod b",model_name="llama",subscriber="main"} 1
pagedkv_kv_subscriber_synced{engine="pod-a",model_name="llama",subscriber="main"} 1
# HELP pagedkv_kv_subscriber_undecodable_batches_total Batches that arrived but did not decode (counted as lost too).
# TYPE pagedkv_kv_subscriber_undecodable_batches_total counter
pagedkv_kv_subscriber_undecodable_batches_total{engine="pod b",model_name="llama",subscriber="main"} 0
pagedkv_kv_subscriber_undecodable_batches_total{engine="pod-a",model_name="llama",subscriber="main"} 0
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want)))
	require.Equal(t, 8+7+2*16, testutil.CollectAndCount(col), "series: adapter 8, publisher 7, 16 per engine")
	problems, err := testutil.CollectAndLint(col)
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestCollectorAddErrors(t *testing.T) {
	idx, err := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	require.NoError(t, err)
	feed, err := cluster.NewFeed(cluster.FeedConfig{Index: idx})
	require.NoError(t, err)
	defer feed.Close()
	a, err := kvfeed.New(kvfeed.Config{Feed: feed})
	require.NoError(t, err)
	sub, err := kvevents.NewSubscriber(context.Background(), kvevents.SubscriberConfig{Handler: a.Handle})
	require.NoError(t, err)
	defer sub.Close()
	pub := startPublisher(t, kvevents.PublisherConfig{})
	c := kvfeed.NewCollector(cluster.CollectorOptions{})
	require.NoError(t, c.Add("a", a))
	require.NoError(t, c.AddSubscriber("a", sub), "another kind: other series")
	require.NoError(t, c.AddPublisher("a", pub))
	for name, err := range map[string]error{
		"duplicate adapter":    c.Add("a", a),
		"duplicate subscriber": c.AddSubscriber("a", sub),
		"duplicate publisher":  c.AddPublisher("a", pub),
		"empty name":           c.Add("", a),
		"nil adapter":          c.Add("b", nil),
		"nil subscriber":       c.AddSubscriber("b", nil),
		"nil publisher":        c.AddPublisher("b", nil),
		"not UTF-8":            c.Add("e\xff", a),
	} {
		require.ErrorIs(t, err, cluster.ErrInvalidArgument, name)
	}
	// The failed calls changed nothing: one adapter (8 series) and one publisher
	// (7); the subscriber follows no engine yet.
	require.Equal(t, 15, testutil.CollectAndCount(c))

	// A subscriber's engine names are its endpoints': one that is not UTF-8 gets
	// U+FFFD in its labels instead of failing the whole scrape.
	require.NoError(t, sub.Add(kvevents.Endpoint{Engine: "e\xff", Pub: "tcp://127.0.0.1:1"}))
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	found := false
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == "engine" && l.GetValue() == "e\uFFFD"
			}
		}
	}
	require.True(t, found, "the engine's series are there, with U+FFFD")
}
