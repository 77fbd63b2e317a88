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
	member int // the member slot (engine incarnation) the request runs on
	blocks int
	handle uint64 // the tracker's handle
}

// loads is the router's view of outstanding work, per member slot. A member slot is
// one incarnation of an engine: AddEngine (or NewRouter) opens one, RemoveEngine
// closes it; a closed one with requests outstanding is draining (its load is kept,
// hidden, until its last ticket is finished), an idle closed one is free for reuse.
// So a re-added engine starts on a fresh slot with zero load, and a ticket finished
// after its engine left releases the load of the incarnation it ran on. loads is
// guarded by Router.mu; ids and pos change only while Router.memb is also held for
// writing.
//
// Invariants (checkInvariants): requests[m] = number of live ticket slots on m;
// blocks[m] = Σ blocks of those; free lists exactly the non-live ticket slots; a
// member slot is present (pos ≥ 0), draining (pos = −1, requests > 0) or free
// (pos = −1, idle, listed once in freeMembers).
type loads struct {
	requests []int
	blocks   []int
	ids      []EngineID // the engine of each member slot ("" when free)
	pos      []int      // position in Router.engines, −1 once removed

	freeMembers []int
	slots       []ticketSlot
	free        []int
}

func newLoads(engines []EngineID) loads {
	var l loads
	for i, e := range engines {
		l.open(e, i)
	}
	return l
}

// open starts a fresh member slot for engine e at position pos and returns it.
func (l *loads) open(e EngineID, pos int) int {
	if n := len(l.freeMembers); n > 0 {
		m := l.freeMembers[n-1]
		l.freeMembers = l.freeMembers[:n-1]
		l.ids[m], l.pos[m] = e, pos
		return m
	}
	l.requests, l.blocks = append(l.requests, 0), append(l.blocks, 0)
	l.ids, l.pos = append(l.ids, e), append(l.pos, pos)
	return len(l.ids) - 1
}

// close removes member slot m from the engine set: it is freed at once when idle,
// else when its last request finishes.
func (l *loads) close(m int) {
	l.pos[m] = -1
	l.release(m)
}

// release frees a closed, idle member slot.
func (l *loads) release(m int) {
	if l.pos[m] < 0 && l.requests[m] == 0 {
		l.ids[m] = ""
		l.freeMembers = append(l.freeMembers, m)
	}
}

// draining returns the number of removed engine incarnations with requests still
// outstanding.
func (l *loads) draining() int {
	n := 0
	for m := range l.pos {
		if l.pos[m] < 0 && l.requests[m] > 0 {
			n++
		}
	}
	return n
}

func (l *loads) start(member, blocks int, handle uint64) Ticket {
	var i int
	if n := len(l.free); n > 0 {
		i = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		l.slots = append(l.slots, ticketSlot{})
		i = len(l.slots) - 1
	}
	s := &l.slots[i]
	s.live, s.member, s.blocks, s.handle = true, member, blocks, handle
	l.requests[member]++
	l.blocks[member] += blocks
	return Ticket{id: uint64(s.gen)<<32 | uint64(i+1)}
}

// finish releases t and returns its member slot's position (−1 if the engine was
// removed since the request started) and the tracker's handle.
func (l *loads) finish(t Ticket) (pos int, handle uint64, err error) {
	i := int(uint32(t.id)) - 1
	if i < 0 || i >= len(l.slots) || !l.slots[i].live || l.slots[i].gen != uint32(t.id>>32) {
		return 0, 0, fmt.Errorf("%w: %#x", ErrUnknownTicket, t.id)
	}
	s := &l.slots[i]
	s.live = false
	s.gen++
	m := s.member
	l.requests[m]--
	l.blocks[m] -= s.blocks
	l.free = append(l.free, i)
	l.release(m)
	return l.pos[m], s.handle, nil
}

// checkInvariants checks the accounting against the live tickets, and the member
// table against the router's engine order (order[i] is engines[i]'s member slot).
func (l *loads) checkInvariants(engines []EngineID, order []int) error {
	n := len(l.requests)
	if len(l.blocks) != n || len(l.ids) != n || len(l.pos) != n {
		return fmt.Errorf("member table lengths %d/%d/%d/%d differ", n, len(l.blocks), len(l.ids), len(l.pos))
	}
	reqs, blocks := make([]int, n), make([]int, n)
	live := 0
	for _, s := range l.slots {
		if s.live {
			if s.member < 0 || s.member >= n {
				return fmt.Errorf("live ticket on member slot %d of %d", s.member, n)
			}
			reqs[s.member]++
			blocks[s.member] += s.blocks
			live++
		}
	}
	for m := range reqs {
		if reqs[m] != l.requests[m] || blocks[m] != l.blocks[m] {
			return fmt.Errorf("engine %s (member slot %d): %d requests / %d blocks recorded, %d / %d outstanding",
				l.ids[m], m, l.requests[m], l.blocks[m], reqs[m], blocks[m])
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
	if len(order) != len(engines) {
		return fmt.Errorf("%d engines but %d member slots in order", len(engines), len(order))
	}
	present := 0
	for i, m := range order {
		if m < 0 || m >= n || l.pos[m] != i || l.ids[m] != engines[i] {
			return fmt.Errorf("engine %s at position %d: member slot %d does not point back", engines[i], i, m)
		}
	}
	freed := make([]bool, n)
	for _, m := range l.freeMembers {
		if m < 0 || m >= n || freed[m] || l.pos[m] >= 0 || l.requests[m] != 0 || l.ids[m] != "" {
			return fmt.Errorf("free member slot %d out of range, listed twice, present, busy or named", m)
		}
		freed[m] = true
	}
	for m := range l.pos {
		switch {
		case l.pos[m] >= 0:
			present++
			if l.pos[m] >= len(order) || order[l.pos[m]] != m {
				return fmt.Errorf("member slot %d (%s) claims position %d", m, l.ids[m], l.pos[m])
			}
		case l.requests[m] == 0 && !freed[m]:
			return fmt.Errorf("removed idle member slot %d (%s) was not freed", m, l.ids[m])
		case l.requests[m] == 0 && l.blocks[m] != 0:
			return fmt.Errorf("free member slot %d holds %d blocks", m, l.blocks[m])
		}
	}
	if present != len(order) {
		return fmt.Errorf("%d present member slots for %d engines", present, len(order))
	}
	return nil
}
