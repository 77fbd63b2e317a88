package sim

import "fmt"

// checkInvariants verifies the engine's state and the policy's (tests run it after
// every iteration through Config.checkInvariants):
//   - every request in flight is in exactly one of waiting, running and swapped,
//     and holds a slot no other request holds;
//   - running ≤ MaxSeqs; swapped is empty without a swapper;
//   - each request's progress is in range: prefilled ≤ promptLen, computed ≤ final,
//     generated ≤ OutputLen, nothing scheduled between iterations;
//   - completed + rejected + in flight ≤ the source's requests, = once it is
//     exhausted;
//   - the policy's own invariants hold for the requests in flight.
func (e *engine) checkInvariants() error {
	if len(e.running) > e.cfg.MaxSeqs {
		return fmt.Errorf("sim: %d running > MaxSeqs %d", len(e.running), e.cfg.MaxSeqs)
	}
	if e.swapper == nil && len(e.swapped) > 0 {
		return fmt.Errorf("sim: %d swapped without a host tier", len(e.swapped))
	}
	seen := map[*reqState]string{}
	slotOwner := map[int]*reqState{}
	var live []*reqState
	for _, q := range []struct {
		name string
		reqs []*reqState
	}{{"waiting", e.waiting}, {"running", e.running}, {"swapped", e.swapped}} {
		for _, r := range q.reqs {
			if where, dup := seen[r]; dup {
				return fmt.Errorf("sim: request %d both %s and %s", r.ID, where, q.name)
			}
			seen[r] = q.name
			if o, dup := slotOwner[r.slot]; dup {
				return fmt.Errorf("sim: requests %d and %d share slot %d", o.ID, r.ID, r.slot)
			}
			slotOwner[r.slot] = r
			if err := r.check(); err != nil {
				return fmt.Errorf("sim: %s request %d: %w", q.name, r.ID, err)
			}
			live = append(live, r)
		}
	}
	// (A cluster's engines are handed requests by the fleet, which checks the counts.)
	if n := e.m.completed + e.m.rejected + len(live); e.onDone == nil && (n > e.total || !e.arr.has && e.arr.err == nil && n != e.total) {
		return fmt.Errorf("sim: %d done or in flight of %d requests (source exhausted: %v)", n, e.total, !e.arr.has)
	}
	return e.pol.checkInvariants(live)
}

func (r *reqState) check() error {
	switch {
	case r.prefilled < 0 || r.prefilled > r.promptLen:
		return fmt.Errorf("prefilled %d not in [0, %d]", r.prefilled, r.promptLen)
	case r.computed < 0 || r.computed > r.final:
		return fmt.Errorf("computed %d not in [0, %d]", r.computed, r.final)
	case r.generated < 0 || r.generated > r.OutputLen:
		return fmt.Errorf("generated %d not in [0, %d]", r.generated, r.OutputLen)
	case r.promptLen > r.final:
		return fmt.Errorf("promptLen %d > final %d", r.promptLen, r.final)
	case r.stepKind != stepNone:
		return fmt.Errorf("still scheduled (%d) between iterations", r.stepKind)
	}
	return nil
}

// check verifies a memory sample: no part negative, the parts within the capacity,
// physical blocks no more than logical ones.
func (s *memSample) check() error {
	if s.capacity <= 0 || s.token < 0 || s.reserved < 0 || s.internal < 0 ||
		s.token+s.reserved+s.internal > s.capacity || s.physical > s.logical || s.usedBlocks < 0 {
		return fmt.Errorf("sim: bad memory sample %+v", *s)
	}
	return nil
}
