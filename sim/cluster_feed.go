package sim

import (
	"context"
	"fmt"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/paged"
)

// indexFeed carries the engines' prefix-cache events into the cluster index: it
// drains each engine's paged.Manager (TakeEvents), turns the events into
// cluster.Events and applies them as numbered batches, one engine's in order.
//
// It is the simulator's own small adapter until cluster/ ships its
// paged.Manager → Index feed; then this file goes.
type indexFeed struct {
	idx     cluster.Index
	pevs    []paged.Event
	hashes  []uint64 // arena for the events' hashes, reused per sync
	events  []cluster.Event
	batches []cluster.Batch
	owners  []*clusterEngine // owners[i] is the engine of batches[i]
	results []cluster.ApplyResult
	errors  int // failed index calls (the engines involved are resynchronised)
}

// maxFeedHashes bounds the hashes of one batch (below every index's
// MaxBatchHashes default).
const maxFeedHashes = 4096

// start drops every engine's entries, so a shared index (Redis) holds nothing
// from an earlier run.
func (f *indexFeed) start(ctx context.Context, engines []*clusterEngine) error {
	for _, ce := range engines {
		if err := f.idx.DropEngine(ctx, ce.id); err != nil {
			return fmt.Errorf("%w: cluster index: %w", ErrInvalid, err)
		}
	}
	return nil
}

// sync applies the events queued by the given engines since the last sync, in one
// index call.
func (f *indexFeed) sync(ctx context.Context, engines []*clusterEngine) {
	f.hashes, f.events, f.batches, f.owners = f.hashes[:0], f.events[:0], f.batches[:0], f.owners[:0]
	for _, ce := range engines {
		f.collect(ce)
	}
	if len(f.batches) == 0 {
		return
	}
	var err error
	f.results, err = f.idx.ApplyBatches(ctx, f.batches, f.results[:0])
	if err == nil {
		for i, r := range f.results {
			if r.Outcome != cluster.Applied && r.Outcome != cluster.Duplicate {
				err = fmt.Errorf("engine %s batch %d: %v", f.batches[i].Engine, f.batches[i].Seq, r.Outcome)
				break
			}
		}
	}
	if err != nil {
		// The index missed some of these batches: rebuild those engines' entries
		// from their caches at the next sync (ResyncEvents after a DropEngine).
		f.errors++
		for _, ce := range f.owners {
			ce.resync = true
		}
	}
}

// collect appends ce's queued events as batches.
func (f *indexFeed) collect(ce *clusterEngine) {
	m := ce.pol.m
	if ce.resync {
		if err := f.idx.DropEngine(context.Background(), ce.id); err != nil {
			f.errors++
			return // still unreachable: try again next time
		}
		ce.resync = false
		f.pevs = m.ResyncEvents(f.pevs[:0])
	} else {
		var dropped uint64
		if f.pevs, dropped = m.TakeEvents(f.pevs[:0]); dropped > 0 {
			// The queue overflowed: the events say the cache as it is now.
			f.pevs = m.ResyncEvents(f.pevs[:0])
		}
	}
	start, n := len(f.events), 0
	mergeFrom, mergeTier := -1, cluster.TierGPU // the last event is a Removed of f.hashes[mergeFrom:]
	flush := func() {
		if len(f.events) > start {
			f.batches = append(f.batches, cluster.Batch{Engine: ce.id, Seq: ce.seq, Events: f.events[start:len(f.events):len(f.events)]})
			f.owners = append(f.owners, ce)
			ce.seq++
		}
		start, n, mergeFrom = len(f.events), 0, -1
	}
	for i := range f.pevs {
		pe := &f.pevs[i]
		tier := cluster.TierGPU
		if pe.Medium == paged.MediumCPU {
			tier = cluster.TierCPU
		}
		if n+len(pe.Hashes) > maxFeedHashes {
			flush()
		}
		switch pe.Kind {
		case paged.BlockStored, paged.BlockRemoved:
			kind := cluster.Stored
			if pe.Kind == paged.BlockRemoved {
				kind = cluster.Removed
			}
			h0 := len(f.hashes)
			for _, h := range pe.Hashes {
				f.hashes = append(f.hashes, uint64(h))
			}
			n += len(pe.Hashes)
			// Consecutive removals from one tier merge into one event.
			if kind == cluster.Removed && mergeFrom >= 0 && mergeTier == tier {
				f.events[len(f.events)-1].Hashes = f.hashes[mergeFrom:len(f.hashes):len(f.hashes)]
				continue
			}
			f.events = append(f.events, cluster.Event{Kind: kind, Hashes: f.hashes[h0:len(f.hashes):len(f.hashes)], Tier: tier,
				Parent: uint64(pe.ParentHash), HasParent: pe.HasParent})
			mergeFrom, mergeTier = -1, tier
			if kind == cluster.Removed {
				mergeFrom = h0
			}
		case paged.AllBlocksCleared:
			f.events = append(f.events, cluster.Event{Kind: cluster.Cleared})
			mergeFrom = -1
		}
	}
	flush()
	clear(f.pevs) // drop references to the manager's buffers
}
