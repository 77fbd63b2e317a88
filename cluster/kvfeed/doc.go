// Package kvfeed feeds vLLM KV events into a cluster index: it turns what a
// kvevents.Subscriber tells its handler into updates of a cluster.Feed, which applies
// them to a cluster.Index (in memory or Redis) in order per engine.
//
//	kvevents notice                 cluster.Feed update
//	Applied batch                   Apply(Batch{Engine, Seq, events})
//	  BlockStored{hashes, parent, medium}  Event{Kind: Stored, Hashes: Key()s, Parent, Tier}
//	  BlockRemoved{hashes, medium}         Event{Kind: Removed, Hashes: Key()s, Tier}
//	  AllBlocksCleared                     Event{Kind: Cleared}
//	GapLost [From, To)              Lost(engine, From, To): stale, resynced at To
//	Restarted                       Restart(engine, 0): entries dropped, run from 0
//	Cleared, GapRecovered           counted only (the batch itself carries the clear)
//
// A block hash becomes its 64-bit key (kvevents.BlockHash.Key: the integer vLLM
// sends by default, or the last 8 bytes of a raw digest), the same key a router
// computes with prefix.VLLM. Medium "GPU" (or none) is cluster.TierGPU, "CPU"
// cluster.TierCPU; events on other media are skipped (Config.Media maps them).
//
// It is a package of its own so that cluster does not import kvevents (and ZeroMQ):
// routers fed by in-process engines (cluster.ManagerSource, the simulator) link
// neither.
//
// A worked example: a router follows three vLLM pods and routes with the index.
//
//	idx, _ := cluster.NewMemoryIndex(cluster.MemoryConfig{})
//	feed, _ := cluster.NewFeed(cluster.FeedConfig{Index: idx})
//	a, _ := kvfeed.New(kvfeed.Config{Feed: feed})
//	sub, _ := kvevents.NewSubscriber(ctx, kvevents.SubscriberConfig{Handler: a.Handle})
//	for _, pod := range pods {
//		ep := kvevents.Endpoint{Engine: pod.Name, Pub: pod.Pub, Replay: pod.Replay}
//		ep, _ = kvfeed.Resume(ctx, idx, ep) // a shared index: replay only what it misses
//		_ = sub.Add(ep)
//	}
//
// An engine whose batches could not be replayed is marked stale and resynced, so the
// index forgets what it knew of that engine rather than keeping blocks the lost
// batches removed; the blocks the engine still holds come back as it stores them
// again (or at once, if the engine re-announces its cache after a loss, as
// cluster.ManagerSource does for paged.Manager).
//
// Metrics: a Collector exports, for Prometheus, the adapters' Stats
// (pagedkv_kv_feed_*), every engine's subscription status (pagedkv_kv_subscriber_*)
// and publishers' stats (pagedkv_kv_publisher_*), so kvevents itself needs no
// Prometheus client:
//
//	c := kvfeed.NewCollector(cluster.CollectorOptions{})
//	_ = c.Add("router", a)
//	_ = c.AddSubscriber("main", sub)
//	prometheus.MustRegister(c)
package kvfeed
