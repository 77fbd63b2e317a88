package cluster

import (
	"context"
	"fmt"
)

// Engine-level operations and statistics of the memory index.

// DropEngine implements Index.
func (x *MemoryIndex) DropEngine(_ context.Context, id EngineID) error {
	if err := x.checkEngineArg(id); err != nil {
		return err
	}
	e, _ := x.lockEngine(id, false)
	if e == nil {
		return nil
	}
	defer e.mu.Unlock()
	e.info = EngineInfo{}
	x.setSlot(e, true)
	x.engMu.Lock()
	delete(x.engines, id)
	x.freeSlots = append(x.freeSlots, e.slot)
	x.engMu.Unlock()
	e.dropped = true
	x.c.drops.Add(1)
	return nil
}

// MarkStale implements Index.
func (x *MemoryIndex) MarkStale(_ context.Context, id EngineID) error {
	if err := x.checkEngineArg(id); err != nil {
		return err
	}
	e, err := x.lockEngine(id, true)
	if err != nil {
		return err
	}
	defer e.mu.Unlock()
	e.info.State = EngineStale
	x.setSlot(e, false)
	x.c.stale.Add(1)
	return nil
}

// Resync implements Index.
func (x *MemoryIndex) Resync(_ context.Context, id EngineID, next uint64) error {
	if err := x.checkEngineArg(id); err != nil {
		return err
	}
	if next > MaxSeq {
		return fmt.Errorf("%w: resync %s to %d beyond %d", ErrInvalidArgument, id, next, uint64(MaxSeq))
	}
	e, err := x.lockEngine(id, true)
	if err != nil {
		return err
	}
	defer e.mu.Unlock()
	x.c.resyncs.Add(1)
	if !e.fresh && next == e.info.Next {
		e.info.State = EngineLive
		if e.info.GapEnd >= next {
			e.info.State = EngineBehind
		}
		x.setSlot(e, false)
		return nil
	}
	e.info, e.fresh = EngineInfo{State: EngineLive, Next: next}, false
	x.setSlot(e, true)
	x.c.drops.Add(1)
	return nil
}

// Engine implements Index.
func (x *MemoryIndex) Engine(_ context.Context, id EngineID) (EngineInfo, error) {
	if err := x.checkEngineArg(id); err != nil {
		return EngineInfo{}, err
	}
	e, _ := x.lockEngine(id, false)
	if e == nil {
		return EngineInfo{}, nil
	}
	defer e.mu.Unlock()
	return e.info, nil
}

func (x *MemoryIndex) checkEngineArg(id EngineID) error {
	if x.closed.Load() {
		return ErrClosed
	}
	if err := ValidateEngineID(id); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return nil
}

// Stats implements Index.
func (x *MemoryIndex) Stats(context.Context) (IndexStats, error) {
	st := IndexStats{
		Applied: x.c.applied.Load(), Duplicates: x.c.duplicates.Load(), Gaps: x.c.gaps.Load(),
		Refused: x.c.refused.Load(), Replayed: x.c.replayed.Load(), Events: x.c.events.Load(),
		BlocksStored: x.c.stored.Load(), BlocksRemoved: x.c.removed.Load(), Clears: x.c.clears.Load(),
		Drops: x.c.drops.Load(), Resyncs: x.c.resyncs.Load(), MarkedStale: x.c.stale.Load(),
	}
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.RLock()
		st.Keys += int64(s.live)
		st.Entries += s.entries
		st.Evictions += s.evictions
		s.mu.RUnlock()
	}
	x.engMu.RLock()
	engines := make([]*memEngine, 0, len(x.engines))
	for _, e := range x.engines {
		engines = append(engines, e)
	}
	x.engMu.RUnlock()
	for _, e := range engines {
		e.mu.Lock()
		switch e.info.State {
		case EngineLive:
			st.Live++
		case EngineBehind:
			st.Behind++
		case EngineStale:
			st.Stale++
		}
		e.mu.Unlock()
	}
	return st, nil
}

// Close implements Index. Later calls return ErrClosed (Stats keeps working).
func (x *MemoryIndex) Close() error {
	x.closed.Store(true)
	return nil
}
