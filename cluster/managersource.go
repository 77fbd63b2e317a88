package cluster

import (
	"fmt"
	"sync"

	"github.com/pagedkv/pagedkv/paged"
)

// MaxSourceBatchHashes is the most block hashes one batch from a ManagerSource
// carries; more events (or a large snapshot) go out as several batches in a row, so
// every batch is within any index's MaxBatchHashes default.
const MaxSourceBatchHashes = 4096

// ManagerSource feeds an in-process paged.Manager's prefix-cache events (its
// TakeEvents queue, which must be enabled: paged.EventOptions) to a Feed as one
// engine: what the cluster index holds for the engine is then what the Manager
// caches, in both tiers (medium GPU, and CPU with a host prefix cache). The
// simulator runs one per simulated engine.
//
// Batches are numbered from 0. The first Poll restarts the engine in the index and
// announces the Manager's whole cache (paged.Manager.ResyncEvents: clears, then
// every cached block), so a source may join a Manager that is already warm, or an
// index that knew the engine before. When the Manager's queue overflowed
// (TakeEvents reports dropped events) or the feed discarded the engine's batches
// (Feed.Overflows), the next Poll announces the cache again, taken atomically with
// the reset of the Manager's queue: nothing the Manager evicted stays in the index,
// and nothing it caches is missing once the feed has applied the batches.
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

// Resets returns how many times the source announced the Manager's cache again after
// dropped events or a feed overflow (the first announcement not counted).
func (s *ManagerSource) Resets() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resets
}

// Poll takes the Manager's queued events and queues them on f as batches (none when
// there are no events; an announcement is at least one). It returns the number of
// batches queued. Errors: the feed's (ErrClosed); after an error the next Poll
// starts over with an announcement.
func (s *ManagerSource) Poll(f *Feed) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.overflows = f.Overflows(s.engine)
		if err := f.Restart(s.engine, s.seq); err != nil {
			return 0, err
		}
		s.started = true
		s.evs = s.m.ResyncEvents(s.evs[:0])
		return s.send(f, true)
	}
	var dropped uint64
	s.evs, dropped = s.m.TakeEvents(s.evs[:0])
	if o := f.Overflows(s.engine); o != s.overflows { // the feed discarded batches
		s.overflows, dropped = o, max(dropped, 1)
	}
	if dropped > 0 {
		s.resets++
		s.evs = s.m.ResyncEvents(s.evs[:0]) // starts with clears: supersedes what was taken
		return s.send(f, true)
	}
	return s.send(f, false)
}

// send queues s.evs as batches of at most MaxSourceBatchHashes hashes (at least one
// batch if always).
func (s *ManagerSource) send(f *Feed, always bool) (int, error) {
	defer clear(s.evs) // drop references to the Manager's arrays
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
			for hs := ev.Hashes; len(hs) > 0; {
				if len(s.hashes) == MaxSourceBatchHashes {
					if err := s.flush(f); err != nil {
						return n, err
					}
					n++
				}
				take := min(MaxSourceBatchHashes-len(s.hashes), len(hs))
				start := len(s.hashes)
				for _, h := range hs[:take] {
					s.hashes = append(s.hashes, uint64(h))
				}
				s.batch = append(s.batch, Event{Kind: kind, Tier: tier, Hashes: s.hashes[start:len(s.hashes):len(s.hashes)],
					Parent: parent, HasParent: has && kind == Stored})
				parent, has = uint64(hs[take-1]), true
				hs = hs[take:]
			}
		case paged.AllBlocksCleared: // either tier: the index clears the engine
			s.batch = append(s.batch, Event{Kind: Cleared})
		}
	}
	if len(s.batch) > 0 || (always && n == 0) {
		if err := s.flush(f); err != nil {
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
		s.started = false // start over with an announcement: the index may miss this batch
		return err
	}
	s.seq++
	s.batch, s.hashes = s.batch[:0], s.hashes[:0]
	return nil
}
