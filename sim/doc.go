// Package sim is a discrete-event simulator of a serving engine's KV-cache memory. It
// answers a capacity planner's questions — how much KV memory each allocation policy
// wastes, how many requests run at once, what prefix caching saves, what 8-bit KV or
// another block size buys — on synthetic workloads or public traces (package
// workload) served on a deployment (package hardware).
//
//	src := workload.Synthetic{Profile: workload.ShareGPT(), Rate: 2, Requests: 7200, Seed: 1}.Source()
//	res, err := sim.Run(sim.Config{Policy: sim.PolicyPaged}, src) // zero fields: the defaults
//	fmt.Printf("%.1f%% of KV memory holds tokens\n", res.TokenStatesPct)
//
// Layers: sim sits above paged (the allocator it measures), workload (where requests
// come from) and hardware (the deployment's sizes and time model), and imports
// nothing else of pagedkv; cmd/kvsim sits on top. workload and hardware import no
// pagedkv package, so the benchmark suite (bench) and other front ends (cmd/kvctl's
// simulated engine) share them without importing sim.
//
// The data path runs one way: the source yields requests as they arrive; the engine
// (engine.go, arrivals.go) queues them and schedules each iteration (scheduler.go,
// preemption.go); the policy (policy.go; paged_*.go, contiguous_policy.go) answers
// memory questions by driving its allocator (paged.Manager, Buddy); the metrics
// (metrics.go) take the engine's iteration and the policy's memory sample and make
// the Result (result.go). The engine owns each request's progress; a policy keeps
// its own per-request state indexed by the request's slot.
//
// The paged policy admits a request with one paged.Manager.Admit call (prefix hit,
// watermark, claim and reservation under one lock and one walk of the chained
// hashes), decodes a request's sequences with one DecodeStep, and samples memory
// every iteration from one SeqStates call over the running sequences, in
// O(sequences) rather than O(blocks) (paged_breakdown.go explains why that is exact;
// tests compare it with a walk over the block tables on every iteration).
//
// # Engine
//
// Iteration-level (continuous) batching, FCFS: each iteration first decodes one token
// for every running request (oldest first), preempting the most recently admitted
// request when memory runs out — swapped to the host tier when SwapSpaceGiB is set
// and it fits (swapped requests come back first, and nothing new is admitted while
// any is out), else recomputed (it returns to the head of the queue and is prefilled
// again with its output so far); then, if nothing was preempted, it admits
// waiting requests in order until the token budget (MaxBatchTokens), the sequence cap
// (MaxSeqs) or memory stops it (head-of-line). Prompts are prefilled whole, or in
// chunks with ChunkedPrefill. Time advances by hardware.Deployment.IterationTime, a
// roofline of bytes over HBM bandwidth against FLOPs over peak compute plus a fixed
// overhead. Requests are taken from the source only as the engine needs them, so a
// run holds only the requests in flight.
//
// # Policies
//
//   - paged: drives the real paged.Manager (any block size, prefix caching on or off);
//     parallel samples and beams fork after the prompt and copy on write.
//   - orca-max, orca-pow2, orca-oracle: one contiguous region per sequence from a real
//     buddy allocator (Buddy), reserving up to the model's maximum length, the prompt
//     plus the output rounded up to a power of two (capped at the maximum), or the
//     exact final length (vLLM paper §6.1). They never preempt.
//   - static: FasterTransformer-style static batching: when the engine is idle, admit
//     as many waiting requests as fit (Orca-Max memory) and run them to completion.
//
// # Metrics
//
// See Result. Memory is classified per token slot, time-averaged over the arrival
// window, as in the paper's Fig. 2: token states, reserved (will be filled before the
// request ends), internal fragmentation (held beyond the final length), and external
// fragmentation and other (everything else in the capacity, free space included).
//
// # Swap cost
//
// Swapping a request out or in moves its blocks between GPU and host memory as an
// engine does: one copy per block per layer for K and one for V — vLLM's swap calls
// its swap_blocks kernel (a cudaMemcpyAsync per block) for each layer's key cache
// and value cache — so a block costs 2 × layers copies. hardware.Deployment's
// HostCopyTime charges each copy HostCopyLatency (5 µs, the low end of the 5–7 µs
// per cudaMemcpyAsync call measured for small copies in DualPath, arXiv 2602.21548,
// §5.2) and the bytes HostBandwidth (25 GB/s, PCIe 4.0 x16 in practice); the time is
// added to the iteration that swaps. Small blocks therefore swap slowly, the shape
// of the vLLM paper's Fig. 19: on OPT-13B/A100 a token swapped out and in costs
// 866 µs at block size 1, 116 µs at 16 and 69 µs at 256, against 165 µs to
// recompute it in a prefill; end to end on the default workload (10 minutes)
// swapping's normalized latency is 3.1× recomputation's at block size 1 and within
// 10% of it at 16 and 64 (TestSwapVersusRecomputeFig19b). Where it disagrees: the
// paper finds swapping faster than recomputing at large blocks, with recomputation
// at most 20% slower; here swapping is 2.4× faster in the microbenchmark but 3–5%
// slower end to end at blocks of 128–256, because a recomputed request hits its own
// prefix blocks still in the prefix cache (which the paper's vLLM did not have):
// with prefix caching off the two are within 3% there. Copy-on-write copies are not
// charged: vLLM copies all of a step's blocks of all layers in one kernel on the
// GPU, microseconds against an iteration's tens of milliseconds.
//
// # Cluster mode
//
// RunCluster serves a workload with a fleet: ClusterConfig.Engines engines, each the
// engine above (its own paged.Manager, time model and continuous batching), behind
// one cluster.Router — precise (the cluster index), approximate (a paged.Manager
// replica per engine, no events), load, random or round-robin — whose selector is
// cluster's Dynamo-style cost or llm-d's weighted scorers (ClusterConfig.Selector).
// The run is one discrete-event loop over arrivals, prefix transfers and iteration
// ends in time order (cluster.go); an engine's iteration is scheduled at its start
// and committed at its end, so a request routed meanwhile sees the engine's cache
// as it is. Just before each routing decision the engines' prefix-cache events
// (paged's TakeEvents, through a cluster.ManagerSource per engine) are applied to
// the index by a cluster.Feed in the simulator's goroutine: the router sees every
// cache exactly as of that moment (a real fleet's events lag by milliseconds; that
// lag is not modelled). The index is a cluster.MemoryIndex, or any cluster.Index
// (a RedisIndex runs the same fleet on the distributed store, deciding exactly
// alike). ClusterConfig.CacheTokens sizes each engine's cache, device and host
// tiers together: beyond what the GPUs hold it is a paged host prefix-cache tier
// (write-back: offloaded on eviction, onloaded on a hit, each copy charged to the
// iteration as swaps are), whose blocks the index knows as CPU-tier entries.
//
// ClusterConfig.Outages take engines down and bring them back (cluster_outage.go;
// Outage says exactly how): at a crash the router stops choosing the engine
// (cluster.Router.RemoveEngine), its cache is emptied and dropped from the index,
// and the requests it held are routed again at once to the engines up — prompts
// recomputed, TTFT still counted from their first arrival — their router tickets
// finished; it comes back empty (AddEngine). ClusterResult.Rerouted counts them,
// EngineResult.DownS the time each engine spent down.
//
// The global cache (CacheGlobal) is modelled as follows, and nothing more. The pool
// is the union of the engines' caches: a block is in it while some engine caches
// it, and leaves it when the last one evicts it. When a request is routed, the index
// gives the longest prefix any engine holds (R tokens) and the chosen engine's own
// (L); if R > L, the request reaches its engine (R − L) × the model's KV bytes per
// token / NetGbps later — the load runs on the network beside the engines' compute,
// without contention between loads — and at admission the prompt tokens up to R
// that the engine does not find in its own cache are loaded instead of computed:
// they take KV memory and become cached there (a copy, as Mooncake's prefill nodes
// keep what they load), but cost no FLOPs. Not modelled: the store's own capacity,
// eviction and replicas, an SSD tier, NIC contention, a holder evicting the block
// during the load, and layer-wise overlap of a load with the prefill that follows.
//
// llm-d's 37-capacity benchmark (TestClusterLLMD37Capacity; workload.LLMD37Capacity
// on 4 engines of Llama-3.1-70B, 4×H100 each, 461,376 KV tokens per engine, llm-d's
// scorer weights, stages drained between as inference-perf runs them): output
// tokens/s at 3 / 6 / 12 / 20 req/s are 2,639 / 4,625 / 6,420 / 7,992 for precise
// (published 2,590 / 4,640 / 6,766 / 8,004) and 2,610 / 2,997 / 2,971 / 3,074 for
// random (2,506 / 2,956 / 3,141 / 3,241); random's TTFT p90 is 0.7 / 57 / 107 / 183 s
// (2.0 / 56 / 96 / 197 s); over the whole ladder (kvsim -workload llmd-37, the
// stages' mean) precise / random = 1.76 (published 1.80). Where it disagrees: precise's TTFT p90 is 0.06–0.15 s against 0.4 s — the
// simulation has no tokenizer, HTTP or gateway in the path and prefills a 1,000-token
// suffix in ~70 ms; and the approximate router is much better than llm-d's
// (p90 ≤ 0.7 s up to 15 req/s against 2.2–104 s): its replica is a real paged.Manager
// hashing the exact tokens, whose LRU follows the engine's block by block, while
// llm-d's estimator hashed 256-character blocks and kept an LRU of 2,200 block keys
// per pod (the size given to the replica here) that knows nothing of what the engine
// evicts — so the simulated approximate router is the best an approximate router can
// do, and it only breaks down at 20 req/s.
//
// Mooncake FAST'25 Fig. 10 (TestClusterMooncakeFig10: 10 prefill-only engines with
// 3M-token caches — the GPUs' 1.46M tokens and a host tier — and 256-token blocks):
// the global cache's hit rate is 36% on the
// conversation trace and 64% on the synthetic one (published ≈ 38% and 62%), with
// random and with cache-aware routing alike. Local caches depend on the routing the
// paper does not spell out: random routing gives 11% and 17%, cache-aware (precise)
// routing 30% and 61%, and the published 17% and 27% lie between — Mooncake's
// Conductor weighs queueing against prefix reuse, which neither policy is — and so do
// the published global/local ratios (2.22×, 2.36×; here 1.2× to 3.4× and 1.1× to 3.8×)
// and prefill-time ratios (0.76×, 0.52×).
//
// The cluster index matches hashes, as vLLM's does; paged confirms each hit by its
// parent block, so where a prefix was computed twice at once (two copies of a block)
// the manager's chain can break where the hashes still chain, and the index then
// promises a longer prefix than the engine finds (the fleet's invariants check the
// index block by block and allow exactly this). Prefill compute saved
// (ClusterResult.PrefillSavedPct) counts causal attention exactly, while the
// engine's time model charges attention per request, not per query–key pair, which
// understates long prompts' prefill.
//
// # Calibration
//
// Two constants were fitted to the vLLM paper, and nothing else: the per-iteration
// Overhead of hardware.Default (12 ms, which makes the paged policy's mean batch on the
// default workload match Fig. 13a's 30.4), and beam search's keep probability
// (beamKeep, 0.9, which reproduces Fig. 15's Alpaca beam savings). Length profiles
// are fitted to the published dataset means. Everything else — the Orca rows of Fig. 2 and Fig. 13a,
// parallel-sampling savings, vLLM's token-state share, the swap cost's shape — comes
// out of the mechanisms and sourced constants.
package sim
