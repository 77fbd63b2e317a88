package blockpool

// ReleasePolicy decides where a block whose reference count drops to zero enters the
// free queue. Blocks placed at the head are reused first; blocks at the tail last.
type ReleasePolicy interface {
	// ToHead reports whether a released block goes to the head of the free queue,
	// given whether it carries a content hash.
	ToHead(cached bool) bool
	// String names the policy.
	String() string
}

// UnhashedFirst is the default policy: blocks without a hash go to the head (they are
// worthless to keep), cached blocks to the tail (LRU among cache entries).
type UnhashedFirst struct{}

// ToHead implements ReleasePolicy.
func (UnhashedFirst) ToHead(cached bool) bool { return !cached }

// String names the policy.
func (UnhashedFirst) String() string { return "unhashed-first" }

// AllToTail appends every released block at the tail (plain LRU over all blocks), the
// policy of vLLM V1 before mid-2026; kept for comparison in the simulator.
type AllToTail struct{}

// ToHead implements ReleasePolicy.
func (AllToTail) ToHead(bool) bool { return false }

// String names the policy.
func (AllToTail) String() string { return "all-to-tail" }
