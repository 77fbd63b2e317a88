package cluster

import "fmt"

// Ticket identifies one started request; pass it to Router.Finish. The zero Ticket
// is never valid (a dry run returns it).
type Ticket struct{ id uint64 }

// IsZero reports whether t is the zero Ticket.
func (t Ticket) IsZero() bool { return t.id == 0 }

// ticketSlot is one outstanding request. Slots are reused; gen makes stale tickets
// invalid.
type ticketSlot struct {
	live   bool
	gen    uint32
	engine int
	blocks int
	handle uint64 // the tracker's handle
}

// loads is the router's view of outstanding work. It is guarded by Router.mu.
//
// Invariants (checkInvariants): requests[e] = number of live slots on e; blocks[e] =
// Σ blocks of live slots on e; free lists exactly the non-live slots.
type loads struct {
	requests []int
	blocks   []int
	slots    []ticketSlot
	free     []int
}

func newLoads(engines int) loads {
	return loads{requests: make([]int, engines), blocks: make([]int, engines)}
}

func (l *loads) start(engine, blocks int, handle uint64) Ticket {
	var i int
	if n := len(l.free); n > 0 {
		i = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		l.slots = append(l.slots, ticketSlot{})
		i = len(l.slots) - 1
	}
	s := &l.slots[i]
	s.live, s.engine, s.blocks, s.handle = true, engine, blocks, handle
	l.requests[engine]++
	l.blocks[engine] += blocks
	return Ticket{id: uint64(s.gen)<<32 | uint64(i+1)}
}

// finish releases t and returns its slot's engine and handle.
func (l *loads) finish(t Ticket) (engine int, handle uint64, err error) {
	i := int(uint32(t.id)) - 1
	if i < 0 || i >= len(l.slots) || !l.slots[i].live || l.slots[i].gen != uint32(t.id>>32) {
		return 0, 0, fmt.Errorf("%w: %#x", ErrUnknownTicket, t.id)
	}
	s := &l.slots[i]
	s.live = false
	s.gen++
	l.requests[s.engine]--
	l.blocks[s.engine] -= s.blocks
	l.free = append(l.free, i)
	return s.engine, s.handle, nil
}

func (l *loads) checkInvariants() error {
	reqs := make([]int, len(l.requests))
	blocks := make([]int, len(l.blocks))
	live := 0
	for _, s := range l.slots {
		if s.live {
			reqs[s.engine]++
			blocks[s.engine] += s.blocks
			live++
		}
	}
	for e := range reqs {
		if reqs[e] != l.requests[e] || blocks[e] != l.blocks[e] {
			return fmt.Errorf("engine %d: %d requests / %d blocks recorded, %d / %d outstanding",
				e, l.requests[e], l.blocks[e], reqs[e], blocks[e])
		}
	}
	if live+len(l.free) != len(l.slots) {
		return fmt.Errorf("%d live + %d free tickets != %d slots", live, len(l.free), len(l.slots))
	}
	for _, i := range l.free {
		if l.slots[i].live {
			return fmt.Errorf("free ticket slot %d is live", i)
		}
	}
	return nil
}
