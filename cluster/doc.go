// Package cluster is the fleet layer: a cluster-wide prefix index that says which
// engines hold which KV blocks (in memory, or in Redis shared by router replicas),
// a scorer that finds each engine's cached prefix of a request, and a router that
// weighs that prefix against load to pick an engine.
//
// # The index
//
// An Index maps a block hash to the engines holding it, per tier (GPU, CPU). Engines
// report changes as numbered batches of events — Stored(hashes, tier),
// Removed(hashes, tier), Cleared — which is exactly what vLLM's KV events carry
// (BlockStored, BlockRemoved, AllBlocksCleared, with medium and a per-publisher
// sequence number), and what paged.Manager's TakeEvents returns. Adapters turn those
// into Batch values:
//
//	vLLM BlockStored{block_hashes, parent_block_hash, medium} → Event{Kind: Stored, Hashes, Parent, Tier}
//	vLLM BlockRemoved{block_hashes, medium}                   → Event{Kind: Removed, Hashes, Tier}
//	vLLM AllBlocksCleared                                     → Event{Kind: Cleared}
//	ZMQ frame [topic, seq, payload]                           → Batch{Engine: pod (+ DP rank), Seq: seq}
//
// Batches of one engine are applied strictly in sequence order. A fresh engine starts
// at any Seq; afterwards Seq < next is a Duplicate (ignored: replays overlap, router
// replicas apply the same stream), Seq > next is a Gap (not applied; the engine's
// entries are hidden until the missing batches arrive). The subscriber answers a Gap
// by asking the publisher to replay from ApplyResult.Next; when the publisher
// restarted (its sequence went back to 0) it calls Resync(engine, 0), which discards
// the engine's entries; when events were lost and cannot be replayed it calls
// MarkStale (entries hidden at once) and then Resync or DropEngine. So the index
// never matches a block that an engine is known to have lost: it may miss blocks
// (a cache miss costs a prefill), it never routes to stale ones.
//
// Blocks are counted per (hash, engine, tier), as vLLM reports every block: two
// Stored and one Removed of one hash leave it held.
//
// MemoryIndex (the default) is sharded, bounded by MaxKeys with least-recently-stored
// eviction (a key matched since gets a second chance), and drops or clears an engine
// in O(1) by bumping the engine's epoch; dead entries are reclaimed a few per update.
// Each key's table slot carries bit masks of the engine slots holding it (any tier,
// GPU), so while the index has used at most 64 engine slots and no dead entry is
// left, matching reads one table slot per block however many engines hold it; beyond
// that it checks the entries one by one (the same answers, slower).
// RedisIndex keeps the same semantics in Redis, so several router replicas share one
// index and a restarted router finds it intact; each batch is one atomic Lua script
// (the key layout is documented in redisscripts.go). One contract suite runs over
// both, against a real redis-server and miniredis.
//
// # Feeding the index
//
// A Feed applies engines' update streams to an Index: batches in order per engine,
// grouped into ApplyBatches calls; an engine's Restart (Resync to 0), Lost batches
// (MarkStale, then Resync past them) and Drop at their place in its stream; bounded
// queues (an engine that overflows is resynced, its entries dropped); an index that
// fails is retried, with the queued batches kept. Two adapters feed it:
//
//   - cluster/kvfeed turns a kvevents.Subscriber's notifications (vLLM KV events over
//     ZeroMQ) into Feed updates; it is a package of its own so that cluster does not
//     import kvevents and ZeroMQ;
//   - ManagerSource drains an in-process paged.Manager's event queue (the simulator's
//     engines), announcing its cache when it joins and again, atomically with a reset
//     of the queue, when the queue dropped events.
//
// FeedCollector exports the feed's queue depth, retries and losses.
//
// # Scoring and routing
//
// The Scorer hashes a request's tokens the way the engines do (prefix.Scheme with the
// fleet's block size, hasher and seed: plug vLLM's hashers in as a prefix.Hasher) and
// asks the index, in growing chunks so an unrelated prompt costs one short query,
// for each engine's run of consecutive blocks from block 0. A hit is weighed by tier
// (TierWeights: GPU 1.0, CPU 0.8 by default).
//
// The Router combines a Predictor (where hits come from) with a Selector (how to
// choose). Built-in policies: precise (the index), approximate (a real paged.Manager
// per engine replaying the router's own decisions: no events needed), load (least
// outstanding work), random, round-robin. The cost selector is Dynamo's:
//
//	cost = OverlapWeight × (prompt blocks − weighted hit blocks) + (active blocks + request blocks)
//
// lowest wins; ties go to fewer active requests, then to a rotation keyed by the
// request's first block, so equal prompts that tie land together. If the index
// fails, Route still answers — on load alone, with Decision.Degraded set and the
// router's Status (and pagedkv_cluster_router_degraded) saying so — and asks the
// index again after RetryAfter.
//
// # Engines come and go
//
// The router's engine set changes with the fleet: AddEngine appends an engine
// (scale-up; it starts with no load and, for the approximate policy, an empty
// replica), RemoveEngine takes one out (scale-down, crash; the last engine stays).
// A removed engine gets no new request; requests already routed to it finish with
// their Tickets as usual, their load kept out of sight until the last one ends, and
// a re-added engine of the same name starts afresh. The index is not the router's:
// the router ignores what it says about removed engines, and the control plane
// drops them from it (Index.DropEngine, or Feed.Drop). Decision.EngineIndex is a
// position in Engines() at decision time; Engine is the stable name.
//
// # Worked example
//
// Block size 4. Engine "b" reports that it stored the first two blocks of the system
// prompt 1..8 on the GPU; engine "c" holds them on the CPU only:
//
//	idx, _ := cluster.NewMemoryIndex(cluster.MemoryConfig{})
//	idx.Apply(ctx, cluster.Batch{Engine: "b", Seq: 0, Events: []cluster.Event{
//		{Kind: cluster.Stored, Hashes: []uint64{h0, h1}, Tier: cluster.TierGPU}}})
//	idx.Apply(ctx, cluster.Batch{Engine: "c", Seq: 0, Events: []cluster.Event{
//		{Kind: cluster.Stored, Hashes: []uint64{h0, h1}, Tier: cluster.TierCPU}}})
//
// A request 1..8, 9, 10 (10 tokens: blocks 0 and 1 can hit) scores b = 2 × 1.0 and
// c = 2 × 0.8. With no load anywhere the costs are 10/4 − 2 + 3 = 3.5 for b,
// 10/4 − 1.6 + 3 = 3.9 for c and 10/4 + 3 = 5.5 for an empty engine "a": the router
// sends it to b, expecting 8 cached tokens, and b carries 3 blocks of load until
// Finish. See Example for the code.
//
// Example_endToEnd runs the whole path: two Managers, their sources, a feed, the
// index, the router and a Prometheus scrape.
//
// Observability: NewIndexCollector, NewRouterCollector, NewFeedCollector and
// NewManagerCollector are prometheus.Collectors (the last one exports paged.Manager
// statistics under vLLM's metric names where vLLM has them, e.g.
// vllm:kv_cache_usage_perc and vllm:prefix_cache_hits_total).
package cluster
