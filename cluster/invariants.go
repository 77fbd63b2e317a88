package cluster

import "fmt"

// CheckInvariants verifies the memory index's structure: every shard (map, nodes, LRU
// list, free list, entry counts, capacity), and the engine table (slots unique and
// not free, slot ids pointing at their engine, visibility ⇔ Live, entries only for
// slots ever handed out). It takes every lock in turn and is meant for tests and
// fuzzers; it returns the first violation.
func (x *MemoryIndex) CheckInvariants() error {
	x.engMu.RLock()
	defer x.engMu.RUnlock()
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.RLock()
		err := s.checkInvariants()
		if err == nil {
			s.t.each(func(ts *tslot) {
				nd := s.node(ts.idx - 1)
				for j := range int(nd.n) {
					if e := nd.at(j); int(e.eng) >= x.nextSlot {
						err = fmt.Errorf("entry for slot %d never handed out", e.eng)
					}
				}
			})
		}
		s.mu.RUnlock()
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
	}
	seen := make(map[uint16]bool, len(x.engines))
	for _, s := range x.freeSlots {
		if int(s) >= x.nextSlot || seen[s] {
			return fmt.Errorf("free slot %d out of range or listed twice", s)
		}
		seen[s] = true
	}
	for id, e := range x.engines {
		e.mu.Lock()
		err := x.checkEngine(id, e, seen)
		e.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (x *MemoryIndex) checkEngine(id EngineID, e *memEngine, seen map[uint16]bool) error {
	switch {
	case e.id != id || e.dropped:
		return fmt.Errorf("engine %s: map entry holds %s (dropped %v)", id, e.id, e.dropped)
	case int(e.slot) >= x.nextSlot || seen[e.slot]:
		return fmt.Errorf("engine %s: slot %d free, shared or out of range", id, e.slot)
	case x.slots[e.slot].id.Load() != &e.id:
		return fmt.Errorf("engine %s: slot %d names another engine", id, e.slot)
	case (x.slots[e.slot].v.Load()&1 == 1) != (e.info.State == EngineLive):
		return fmt.Errorf("engine %s: visible=%v in state %v", id, x.slots[e.slot].v.Load()&1 == 1, e.info.State)
	case e.info.State == EngineBehind && e.info.GapEnd < e.info.Next:
		return fmt.Errorf("engine %s: behind with gap end %d < next %d", id, e.info.GapEnd, e.info.Next)
	case e.fresh && e.info.State != EngineUnknown && e.info.State != EngineStale:
		return fmt.Errorf("engine %s: fresh in state %v", id, e.info.State)
	}
	seen[e.slot] = true
	return nil
}
