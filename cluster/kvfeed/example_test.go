package kvfeed_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/cluster/kvfeed"
	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/prometheus/client_golang/prometheus"
)

// A vLLM-style publisher (here on loopback) reports two cached blocks; the router's
// subscriber hands them through the adapter and a Feed to its index.
func Example() {
	pub, _ := kvevents.NewPublisher(kvevents.PublisherConfig{Endpoint: "tcp://127.0.0.1:0",
		ReplayEndpoint: "tcp://127.0.0.1:0", Mode: kvevents.Bind, Linger: -1})
	defer pub.Close()
	_, _ = pub.Publish(&kvevents.Batch{Events: []kvevents.Event{{
		Type:        kvevents.BlockStored,
		BlockHashes: []kvevents.BlockHash{kvevents.HashUint64(101), kvevents.HashUint64(102)},
		TokenIDs:    make([]int32, 32), BlockSize: 16, Medium: kvevents.Some(kvevents.MediumGPU),
	}}})

	ctx := context.Background()
	idx, _ := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	feed, _ := cluster.NewFeed(cluster.FeedConfig{Index: idx})
	defer feed.Close()
	adapter, _ := kvfeed.New(kvfeed.Config{Feed: feed})
	sub, _ := kvevents.NewSubscriber(ctx, kvevents.SubscriberConfig{Handler: adapter.Handle})
	defer sub.Close()
	ep, _ := kvfeed.Resume(ctx, idx, kvevents.Endpoint{Engine: "pod-a", Pub: pub.Endpoint(), Replay: pub.ReplayEndpoint()})
	_ = sub.Add(ep) // joins by replaying the publisher's buffer from 0

	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, _ := sub.Status("pod-a"); st.NextSeq == 1 {
			break
		}
	}
	_ = feed.Flush(ctx)
	ms, _ := idx.Match(ctx, []uint64{101, 102, 103}, nil)
	for _, m := range ms {
		fmt.Printf("%s holds %d blocks of the prefix (%d on GPU)\n", m.Engine, m.Blocks, m.GPUBlocks)
	}
	fmt.Println("batches:", adapter.Stats().Batches)
	// Output:
	// pod-a holds 2 blocks of the prefix (2 on GPU)
	// batches: 1
}

// The collector exports the adapter's counters, the subscriber's per-engine status
// and (on the engine side) the publisher's, read at every scrape.
func ExampleCollector() {
	pub, _ := kvevents.NewPublisher(kvevents.PublisherConfig{Endpoint: "tcp://127.0.0.1:0",
		ReplayEndpoint: "tcp://127.0.0.1:0", Mode: kvevents.Bind, Linger: -1})
	defer pub.Close()
	_, _ = pub.Publish(&kvevents.Batch{Events: []kvevents.Event{{Type: kvevents.BlockStored,
		BlockHashes: []kvevents.BlockHash{kvevents.HashUint64(7)}, TokenIDs: make([]int32, 16), BlockSize: 16}}})

	ctx := context.Background()
	idx, _ := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	feed, _ := cluster.NewFeed(cluster.FeedConfig{Index: idx})
	defer feed.Close()
	adapter, _ := kvfeed.New(kvfeed.Config{Feed: feed})
	sub, _ := kvevents.NewSubscriber(ctx, kvevents.SubscriberConfig{Handler: adapter.Handle})
	defer sub.Close()
	_ = sub.Add(kvevents.Endpoint{Engine: "pod-a", Pub: pub.Endpoint(), Replay: pub.ReplayEndpoint()})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, _ := sub.Status("pod-a"); st.NextSeq == 1 && !st.Replaying {
			break
		}
	}

	c := kvfeed.NewCollector(cluster.CollectorOptions{ConstLabels: prometheus.Labels{"model_name": "llama"}})
	_ = c.Add("router", adapter)
	_ = c.AddSubscriber("main", sub)
	_ = c.AddPublisher("pod-a", pub)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c) // then serve reg with promhttp.HandlerFor
	families, _ := reg.Gather()
	for _, mf := range families {
		switch mf.GetName() {
		case "pagedkv_kv_feed_events_total", "pagedkv_kv_subscriber_next_seq", "pagedkv_kv_publisher_replayed_batches_total":
			for _, m := range mf.GetMetric() {
				v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
				fmt.Printf("%s %v\n", mf.GetName(), v)
			}
		}
	}
	// Output:
	// pagedkv_kv_feed_events_total 1
	// pagedkv_kv_publisher_replayed_batches_total 1
	// pagedkv_kv_subscriber_next_seq 1
}
