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
// The data path runs one way: the source yields requests as they arrive; the engine
// (engine.go, arrivals.go) queues them and schedules each iteration (scheduler.go,
// preemption.go); the policy (policy.go; paged_*.go, contiguous_policy.go) answers
// memory questions by driving its allocator (paged.Manager, Buddy); the metrics
// (metrics.go) take the engine's iteration and the policy's memory sample and make
// the Result (result.go). The engine owns each request's progress; a policy keeps
// its own per-request state indexed by the request's slot.
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
// # Calibration
//
// Two constants were fitted to the vLLM paper, and nothing else: the per-iteration
// Overhead of hardware.Default (12 ms, which makes the paged policy's mean batch on the
// default workload match Fig. 13a's 30.4), and beam search's keep probability
// (beamKeep, 0.9, which reproduces Fig. 15's Alpaca beam savings). Length profiles are fitted to the
// published dataset means. Everything else — the Orca rows of Fig. 2 and Fig. 13a,
// parallel-sampling savings, vLLM's token-state share — comes out of the mechanisms.
package sim
