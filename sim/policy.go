package sim

// policy is a KV-memory management scheme under test. The engine owns scheduling
// (FCFS, budgets, preemption choice) and each request's progress (reqState); the
// policy owns memory and its own per-request state, indexed by reqState.slot. A
// policy reads a reqState and never writes it.
type policy interface {
	name() string
	blockSize() int
	// prefill reserves memory to compute up to chunk more prompt tokens of r; see
	// grant. On grantLater nothing changed; on grantNever the policy has released r.
	prefill(r *reqState, chunk int) grant
	// decode reserves one slot for every sequence of r; false when memory is short.
	decode(r *reqState, iter int) bool
	// commit records the iteration's tokens of r (r.stepKind, r.stepTokens) as
	// computed.
	commit(r *reqState)
	// release frees all of r's memory and state (finish, preemption or rejection).
	release(r *reqState)
	// sample adds the memory breakdown of the running requests to s.
	sample(running []*reqState, s *memSample)
	// prefixStats returns prefix-cache query and hit tokens so far.
	prefixStats() (queries, hits uint64)
	// checkInvariants verifies the policy's own state against the requests in
	// flight (tests).
	checkInvariants(live []*reqState) error
}

// grant is a policy's answer to prefill.
type grant struct {
	status grantStatus
	// tokens is how many prompt tokens r computes this iteration.
	tokens int
	// hits is how many prompt tokens the policy found already computed (prefix-cache
	// hits) when it first reserved memory for r; the engine skips them.
	hits int
	// hostHits are the hits found in the host prefix-cache tier (onloaded).
	hostHits int
	// first marks the grant that made r's first reservation (the one that looked
	// up the prefix cache).
	first bool
}

type grantStatus int

const (
	grantOK    grantStatus = iota
	grantLater             // memory is short now; nothing changed
	grantNever             // r can never fit; the policy released it
)

// memSample is one instant's KV memory in token slots.
type memSample struct {
	capacity          int
	token, reserved   int // slots holding KV; slots that will hold KV before the request ends
	internal          int // slots held beyond the request's final length
	usedBlocks        int // paged: blocks referenced
	logical, physical int // paged: table entries vs distinct blocks (sharing)
}

// sampleVerifier is implemented by policies whose sample has a slower reference
// implementation; the engine compares the two on every iteration when it checks
// invariants (tests).
type sampleVerifier interface {
	verifySample(running []*reqState, s *memSample) error
}

// hostCopier is implemented by policies whose allocator returns device↔host copies
// besides swaps (paged with a host prefix-cache tier: onloads of host hits, offloads
// of evicted blocks); the engine charges them to the iteration like swaps.
type hostCopier interface {
	// takeHostCopies returns the block copies since the last call.
	takeHostCopies() int
}

// swapper is implemented by policies that can move a request's KV to a host tier.
// Both methods return the blocks copied, or -1 when nothing changed.
type swapper interface {
	swapOut(r *reqState) int
	swapIn(r *reqState) int
}
