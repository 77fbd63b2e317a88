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
