package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestFeedCollector(t *testing.T) {
	x := newMem(t, MemoryConfig{})
	f := manualFeed(t, x, func(c *FeedConfig) { c.MaxQueuedBatches = 2 })
	mustApply(t, x, st("a", 0, gpu(1)), Applied)
	require.NoError(t, f.Apply(st("a", 0, gpu(1))))
	require.NoError(t, f.Apply(st("a", 1, gpu(2))))
	require.NoError(t, f.Flush(context.Background()))
	require.NoError(t, f.Restart("a", 0))
	require.NoError(t, f.Lost("b", 0, 3))
	require.NoError(t, f.Flush(context.Background()))
	for seq := range uint64(3) { // the third overflows
		require.NoError(t, f.Apply(st("c", seq, gpu(seq))))
	}
	c := NewFeedCollector(f, CollectorOptions{})
	want := `
# HELP pagedkv_cluster_feed_batches_total Batches the index applied (applied) or had already applied (duplicate).
# TYPE pagedkv_cluster_feed_batches_total counter
pagedkv_cluster_feed_batches_total{outcome="applied"} 1
pagedkv_cluster_feed_batches_total{outcome="duplicate"} 1
# HELP pagedkv_cluster_feed_engine_ops_total Engine operations carried out: restarts, losses, losses the index had covered, drops.
# TYPE pagedkv_cluster_feed_engine_ops_total counter
pagedkv_cluster_feed_engine_ops_total{op="drop"} 0
pagedkv_cluster_feed_engine_ops_total{op="loss"} 1
pagedkv_cluster_feed_engine_ops_total{op="loss_covered"} 0
pagedkv_cluster_feed_engine_ops_total{op="restart"} 1
# HELP pagedkv_cluster_feed_overflows_total Engine queues discarded for exceeding a bound (the engine is resynced).
# TYPE pagedkv_cluster_feed_overflows_total counter
pagedkv_cluster_feed_overflows_total 1
# HELP pagedkv_cluster_feed_queued_ops Batches and engine operations waiting to be applied to the index.
# TYPE pagedkv_cluster_feed_queued_ops gauge
pagedkv_cluster_feed_queued_ops 2
# HELP pagedkv_cluster_feed_resyncs_total Resync calls (restarts, losses, overflows, gaps).
# TYPE pagedkv_cluster_feed_resyncs_total counter
pagedkv_cluster_feed_resyncs_total 2
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"pagedkv_cluster_feed_batches_total", "pagedkv_cluster_feed_engine_ops_total",
		"pagedkv_cluster_feed_overflows_total", "pagedkv_cluster_feed_queued_ops", "pagedkv_cluster_feed_resyncs_total"))
	require.Equal(t, 16, testutil.CollectAndCount(c))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
}
