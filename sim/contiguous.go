package sim

import "math/bits"

// Reservation rules of the contiguous baselines (vLLM paper §6.1).
const (
	reserveMax    = iota // up to the model's maximum sequence length
	reservePow2          // prompt + output rounded up to a power of two
	reserveOracle        // prompt + exact output
)

// contiguousPolicy gives each sequence one contiguous region from a buddy allocator,
// sized by a reservation rule, for the request's whole life (Orca-style; static
// batching uses the Max rule).
type contiguousPolicy struct {
	label  string
	rule   int
	maxLen int
	buddy  *Buddy
}

func newContiguousPolicy(label string, rule int, slots, maxLen int) *contiguousPolicy {
	return &contiguousPolicy{label: label, rule: rule, maxLen: maxLen, buddy: NewBuddy(slots)}
}

func (c *contiguousPolicy) name() string   { return c.label }
func (c *contiguousPolicy) blockSize() int { return 0 }

// size is the reservation of one sequence of r.
func (c *contiguousPolicy) size(r *reqState) int {
	in, out := len(r.Prompt), r.OutputLen
	switch c.rule {
	case reserveMax:
		return c.maxLen
	case reservePow2:
		return min(c.maxLen, in+1<<bits.Len(uint(out-1)))
	}
	return in + out
}

func (c *contiguousPolicy) prefill(r *reqState, chunk int) (int, bool, bool) {
	n := min(chunk, r.promptLen-r.prefilled)
	if len(r.regions) > 0 {
		return n, true, false
	}
	size := c.size(r)
	if size*r.Width() > c.buddy.Capacity() || size > 1<<(bits.Len(uint(c.buddy.Capacity()))-1) {
		return 0, false, true
	}
	for range r.Width() {
		off, ok := c.buddy.Alloc(size)
		if !ok {
			c.release(r)
			return 0, false, false
		}
		r.regions = append(r.regions, off)
	}
	return n, true, false
}

func (c *contiguousPolicy) decode(*reqState, int) bool { return true } // reserved up front
func (c *contiguousPolicy) commit(*reqState)           {}

func (c *contiguousPolicy) release(r *reqState) {
	for _, off := range r.regions {
		c.buddy.Free(off)
	}
	r.regions = r.regions[:0]
}

func (c *contiguousPolicy) sample(running []*reqState, s *memSample) {
	s.capacity = c.buddy.Capacity()
	for _, r := range running {
		w := len(r.regions)
		size := c.size(r)
		s.token += w * r.computed
		s.reserved += w * (r.final - r.computed)
		s.internal += w * (size - r.final)
	}
}

func (c *contiguousPolicy) prefixStats() (uint64, uint64) { return 0, 0 }
