package sim

// reqState is the engine's view of one request.
type reqState struct {
	*Request
	promptLen int // tokens to prefill: the prompt, plus generated output after a recompute
	prefilled int // of those, computed so far (cache hits included)
	computed  int // KV tokens computed per sequence
	generated int // output tokens sampled per sequence
	final     int // prompt + output: the length the request reaches

	firstToken float64 // time of the first output token (-1 before)
	finish     float64
	preempted  int

	stepKind   int // what this iteration does for it: stepNone, stepPrefill, stepDecode
	stepTokens int // new tokens computed this iteration (all sequences)

	// paged policy state
	seqs     []seqHandle
	added    bool // seqs[0] is registered with the manager
	reserved bool // holds blocks
	beamIter int  // iteration of the last beam reshuffle
	// contiguous policy state
	regions []int
}

type seqHandle = uint64

const (
	stepNone = iota
	stepPrefill
	stepDecode
)

// policy is a KV-memory management scheme under test. The engine owns scheduling
// (FCFS, budgets, preemption choice); the policy owns memory.
type policy interface {
	name() string
	blockSize() int
	// prefill reserves memory to compute up to chunk more prompt tokens of r and
	// returns how many it will compute (prefix-cache hits excluded, and r.prefilled
	// advanced past them). ok is false when memory is short (nothing changed);
	// reject when r can never fit.
	prefill(r *reqState, chunk int) (n int, ok, reject bool)
	// decode reserves one slot for every sequence of r; false when memory is short.
	decode(r *reqState, iter int) bool
	// commit records the iteration's tokens of r as computed.
	commit(r *reqState)
	// release frees all of r's memory (finish or preemption).
	release(r *reqState)
	// sample adds the memory breakdown of the running requests to s.
	sample(running []*reqState, s *memSample)
	// prefixStats returns prefix-cache query and hit tokens so far.
	prefixStats() (queries, hits uint64)
}

// memSample is one instant's KV memory in token slots.
type memSample struct {
	capacity          int
	token, reserved   int // slots holding KV; slots that will hold KV before the request ends
	internal          int // slots held beyond the request's final length
	usedBlocks        int // paged: blocks referenced
	logical, physical int // paged: table entries vs distinct blocks (sharing)
}

// swapper is implemented by policies that can move a request's KV to a host tier.
// Both methods return the blocks copied, or -1 when nothing changed.
type swapper interface {
	swapOut(r *reqState) int
	swapIn(r *reqState) int
}
