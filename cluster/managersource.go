package cluster

import (
	"fmt"
	"sync"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
)

// MaxSourceBatchHashes is the most block hashes one batch from a ManagerSource
// carries; more events (or a large snapshot) go out as several batches in a row, so
// every batch is within any index's MaxBatchHashes default.
const MaxSourceBatchHashes = 4096

// ManagerSource feeds an in-process paged.Manager's prefix-cache events (its
// TakeEvents queue, which must be enabled: paged.EventOptions) to a Feed as one
// engine: what the cluster index holds for the engine is then what the Manager
// caches. The simulator runs one per simulated engine.
//
// Batches are numbered from 0. The first Poll announces the Manager's whole cache
// (Restart, then the snapshot), so a source may join a Manager that is already
// warm, or an index that knew the engine before. When the Manager's queue
// overflowed (TakeEvents reports dropped events) the source re-announces: the
// engine is marked lost (stale, then resynced: its entries dropped) and the
// Manager's cache, taken atomically with the reset of its queue
// (paged.Manager.ResetEvents), is stored again; the same when the feed's queue for
// the engine overflowed (Feed.Overflows). Nothing the Manager evicted stays in the
// index, and nothing it caches is missing once the feed has applied the batches.
//
// A ManagerSource is safe for concurrent use; Poll calls are serialized.
type ManagerSource struct {
	engine EngineID
	m      *paged.Manager

	mu        sync.Mutex
	started   bool
	seq       uint64 // next batch number
	resets    uint64
	overflows uint64 // the feed's overflow count for the engine at the last Poll
	evs       []paged.Event
	snap      []prefix.Hash
	batch     []Event
	hashes    []uint64
}

// NewManagerSource returns a source for m as engine. Errors: ErrInvalidArgument for
// a bad engine id, a nil Manager or one whose events are disabled.
func NewManagerSource(engine EngineID, m *paged.Manager) (*ManagerSource, error) {
	if err := ValidateEngineID(engine); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if m == nil || !m.Config().Events.Enabled {
		return nil, fmt.Errorf("%w: engine %s: the Manager must record events (paged.EventOptions.Enabled)", ErrInvalidArgument, engine)
	}
	return &ManagerSource{engine: engine, m: m}, nil
}

// Engine returns the engine id the source reports as.
func (s *ManagerSource) Engine() EngineID { return s.engine }

// Resets returns how many times the source re-announced the Manager's cache after
// dropped events or a feed overflow (the first announcement not counted).
func (s *ManagerSource) Resets() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resets
}

// Poll takes the Manager's queued events and queues them on f as batches (none when
// there are no events). It returns the number of batches queued. Errors: the feed's
// (ErrClosed); on an error the source starts over with a snapshot at its next Poll.
func (s *ManagerSource) Poll(f *Feed) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.overflows = f.Overflows(s.engine)
		s.snap = s.m.ResetEvents(s.snap[:0])
		if err := f.Restart(s.engine, s.seq); err != nil {
			return 0, err
		}
		s.started = true
		return s.announce(f)
	}
	var dropped uint64
	s.evs, dropped = s.m.TakeEvents(s.evs[:0])
	if o := f.Overflows(s.engine); o != s.overflows { // the feed discarded batches
		s.overflows, dropped = o, max(dropped, 1)
	}
	if dropped > 0 {
		s.snap = s.m.ResetEvents(s.snap[:0])
		lost := s.seq
		s.seq++
		s.resets++
		if err := f.Lost(s.engine, lost, s.seq); err != nil {
			s.started = false
			return 0, err
		}
		return s.announce(f)
	}
	n := 0
	s.batch, s.hashes = s.batch[:0], s.hashes[:0]
	for i := range s.evs {
		ev := &s.evs[i]
		switch ev.Kind {
		case paged.BlockStored, paged.BlockRemoved:
			kind := Stored
			if ev.Kind == paged.BlockRemoved {
				kind = Removed
			}
			tier := TierGPU
			if ev.Medium == paged.MediumCPU {
				tier = TierCPU
			}
			parent, has := uint64(ev.ParentHash), ev.HasParent
			for len(ev.Hashes) > 0 {
				room := MaxSourceBatchHashes - len(s.hashes)
				if room == 0 {
					if err := s.flush(f); err != nil {
						return n, err
					}
					n++
					continue
				}
				take := min(room, len(ev.Hashes))
				start := len(s.hashes)
				for _, h := range ev.Hashes[:take] {
					s.hashes = append(s.hashes, uint64(h))
				}
				s.batch = append(s.batch, Event{Kind: kind, Tier: tier, Hashes: s.hashes[start:len(s.hashes):len(s.hashes)],
					Parent: parent, HasParent: has && kind == Stored})
				parent, has = uint64(ev.Hashes[take-1]), true
				ev.Hashes = ev.Hashes[take:]
			}
		case paged.AllBlocksCleared:
			s.batch = append(s.batch, Event{Kind: Cleared})
		}
	}
	if len(s.batch) > 0 {
		if err := s.flush(f); err != nil {
			return n, err
		}
		n++
	}
	clear(s.evs) // drop references to the Manager's arrays
	return n, nil
}

// announce queues the snapshot in s.snap as Stored (GPU) batches.
func (s *ManagerSource) announce(f *Feed) (int, error) {
	n := 0
	for len(s.snap) > 0 || n == 0 {
		take := min(len(s.snap), MaxSourceBatchHashes)
		s.hashes = s.hashes[:0]
		for _, h := range s.snap[:take] {
			s.hashes = append(s.hashes, uint64(h))
		}
		s.snap = s.snap[take:]
		s.batch = s.batch[:0]
		if take > 0 {
			s.batch = append(s.batch, Event{Kind: Stored, Tier: TierGPU, Hashes: s.hashes})
		}
		if err := s.flush(f); err != nil {
			s.started = false
			return n, err
		}
		n++
	}
	return n, nil
}

// flush queues s.batch as the next batch and empties it.
func (s *ManagerSource) flush(f *Feed) error {
	err := f.Apply(Batch{Engine: s.engine, Seq: s.seq, Events: s.batch})
	if err != nil {
		s.started = false // start over with a snapshot: the index may miss this batch
		return err
	}
	s.seq++
	s.batch, s.hashes = s.batch[:0], s.hashes[:0]
	return nil
}
