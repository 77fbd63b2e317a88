package sim

import "github.com/pagedkv/pagedkv/workload"

// reqState is the engine's view of one accepted request: how far it has come. The
// policies read it; only the engine writes it. A policy's own per-request state
// (sequences, regions) lives in the policy, indexed by slot.
type reqState struct {
	workload.Request // OutputLen already truncated to the model's context

	// slot is a small integer unique among the requests in flight, reused after a
	// request finishes or is rejected; policies index their per-request state by it.
	slot int

	promptLen int // tokens to prefill: the prompt, plus generated output after a recompute
	prefilled int // of those, computed so far (cache hits included); ≤ promptLen
	computed  int // KV tokens computed per sequence; ≤ final
	generated int // output tokens sampled per sequence; ≤ OutputLen
	final     int // prompt + output: the length the request reaches

	firstToken float64 // time of the first output token (-1 before)
	finish     float64
	preempted  int

	stepKind   int // what this iteration does for it: stepNone, stepPrefill, stepDecode
	stepTokens int // new tokens computed this iteration (all sequences)

	// Cluster mode with a global cache: remote is the prompt prefix (tokens) some
	// engine held when the request was routed; fetchLeft the prompt tokens still to
	// load from there rather than compute (set at the first reservation, consumed as
	// the prefill is scheduled). Both 0 otherwise, and after a preemption.
	remote, fetchLeft int
	// route is the cluster's bookkeeping of the request (cluster mode only).
	route routeInfo
}

const (
	stepNone = iota
	stepPrefill
	stepDecode
)
