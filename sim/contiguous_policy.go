package sim

import (
	"fmt"
	"math/bits"
)

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
	label   string
	rule    int
	maxLen  int
	buddy   *Buddy
	regions [][]int // per request (indexed by reqState.slot): one region offset per sequence, or none
}

func newContiguousPolicy(label string, rule int, slots, maxLen int) *contiguousPolicy {
	return &contiguousPolicy{label: label, rule: rule, maxLen: maxLen, buddy: NewBuddy(slots)}
}

func (c *contiguousPolicy) name() string   { return c.label }
func (c *contiguousPolicy) blockSize() int { return 0 }

// state returns r's regions, growing the table for a new slot.
func (c *contiguousPolicy) state(r *reqState) *[]int {
	for r.slot >= len(c.regions) {
		c.regions = append(c.regions, nil)
	}
	return &c.regions[r.slot]
}

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

func (c *contiguousPolicy) prefill(r *reqState, chunk int) grant {
	n := min(chunk, r.promptLen-r.prefilled)
	regions := c.state(r)
	if len(*regions) > 0 {
		return grant{tokens: n}
	}
	size := c.size(r)
	if size*r.Width() > c.buddy.Capacity() || size > 1<<(bits.Len(uint(c.buddy.Capacity()))-1) {
		return grant{status: grantNever}
	}
	for range r.Width() {
		off, ok := c.buddy.Alloc(size)
		if !ok {
			c.release(r)
			return grant{status: grantLater}
		}
		*regions = append(*regions, off)
	}
	return grant{tokens: n, first: true}
}

func (c *contiguousPolicy) decode(*reqState, int) bool { return true } // reserved up front
func (c *contiguousPolicy) commit(*reqState)           {}

func (c *contiguousPolicy) release(r *reqState) {
	regions := c.state(r)
	for _, off := range *regions {
		c.buddy.Free(off)
	}
	*regions = (*regions)[:0]
}

func (c *contiguousPolicy) sample(running []*reqState, s *memSample) {
	s.capacity = c.buddy.Capacity()
	for _, r := range running {
		w := len(*c.state(r))
		size := c.size(r)
		s.token += w * r.computed
		s.reserved += w * (r.final - r.computed)
		s.internal += w * (size - r.final)
	}
}

func (c *contiguousPolicy) prefixStats() (uint64, uint64) { return 0, 0 }

// checkInvariants checks that each request in flight holds no region or one per
// sequence, free slots hold none, and the buddy's used slots are exactly the
// rounded regions held.
func (c *contiguousPolicy) checkInvariants(live []*reqState) error {
	inFlight := map[int]bool{}
	used := 0
	for _, r := range live {
		inFlight[r.slot] = true
		n := len(*c.state(r))
		if n != 0 && n != r.Width() {
			return fmt.Errorf("sim: %s: request %d holds %d regions, width %d", c.label, r.ID, n, r.Width())
		}
		used += n << orderFor(c.size(r))
	}
	for slot, regions := range c.regions {
		if !inFlight[slot] && len(regions) > 0 {
			return fmt.Errorf("sim: %s: free slot %d still holds %d regions", c.label, slot, len(regions))
		}
	}
	if used != c.buddy.Used() {
		return fmt.Errorf("sim: %s: buddy uses %d slots, requests hold %d", c.label, c.buddy.Used(), used)
	}
	return nil
}
