package kvfeed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/kvevents"
)

// ErrInvalidConfig reports a bad Config.
var ErrInvalidConfig = errors.New("kvfeed: invalid config")

// Config configures an Adapter.
type Config struct {
	// Feed receives the updates (required).
	Feed *cluster.Feed
	// Media maps an event's medium to a tier. Default DefaultMedia(); an event whose
	// medium is not in the map is skipped (Stats.SkippedEvents). An event without a
	// medium uses the entry for "".
	Media map[string]cluster.Tier
}

// DefaultMedia maps vLLM's media: "GPU" and none to cluster.TierGPU, "CPU" to
// cluster.TierCPU.
func DefaultMedia() map[string]cluster.Tier {
	return map[string]cluster.Tier{"": cluster.TierGPU, kvevents.MediumGPU: cluster.TierGPU, kvevents.MediumCPU: cluster.TierCPU}
}

// Stats count what an Adapter did.
type Stats struct {
	// Batches and Events are the Applied batches and their events handed to the feed.
	Batches, Events uint64
	// SkippedEvents are events not indexed: unknown types (a newer vLLM's) and
	// media not in Config.Media.
	SkippedEvents uint64
	// Losses (GapLost), Restarts (Restarted), Clears (Cleared) and Recovered
	// (GapRecovered) count the notices of each kind.
	Losses, Restarts, Clears, Recovered uint64
	// Refused counts updates the feed refused: an engine name that is not a valid
	// cluster.EngineID (never indexed), a batch too large to queue (reported lost
	// instead), or a closed feed.
	Refused uint64
	// LastError is the last refusal's error.
	LastError string
}

// Adapter turns kvevents notifications into Feed updates. Its Handle method is a
// kvevents.SubscriberConfig.Handler; it is safe for concurrent use (the subscriber
// calls it from one goroutine per engine).
type Adapter struct {
	feed  *cluster.Feed
	media map[string]cluster.Tier
	pool  sync.Pool

	batches, events, skipped, losses, restarts, clears, recovered, refused atomic.Uint64

	mu      sync.Mutex
	lastErr string
}

type scratch struct {
	events []cluster.Event
	hashes []uint64
}

// New validates cfg and returns an Adapter.
func New(cfg Config) (*Adapter, error) {
	if cfg.Feed == nil {
		return nil, fmt.Errorf("%w: Feed is required", ErrInvalidConfig)
	}
	if cfg.Media == nil {
		cfg.Media = DefaultMedia()
	}
	media := make(map[string]cluster.Tier, len(cfg.Media))
	for m, t := range cfg.Media {
		if t != cluster.TierGPU && t != cluster.TierCPU {
			return nil, fmt.Errorf("%w: medium %q maps to unknown tier %d", ErrInvalidConfig, m, t)
		}
		media[m] = t
	}
	a := &Adapter{feed: cfg.Feed, media: media}
	a.pool.New = func() any { return new(scratch) }
	return a, nil
}

// Handle applies one notification (see the package documentation for the mapping).
// It never blocks on the index: the feed queues.
func (a *Adapter) Handle(n kvevents.Notification) {
	e := cluster.EngineID(n.Engine)
	var err error
	switch n.Kind {
	case kvevents.Applied:
		if n.Batch == nil {
			return
		}
		err = a.apply(e, n.Seq, n.Batch)
	case kvevents.GapLost:
		a.losses.Add(1)
		err = a.feed.Lost(e, n.From, n.To)
	case kvevents.Restarted:
		a.restarts.Add(1)
		err = a.feed.Restart(e, 0)
	case kvevents.Cleared:
		a.clears.Add(1)
	case kvevents.GapRecovered:
		a.recovered.Add(1)
	}
	if err != nil {
		a.refuse(err)
	}
}

func (a *Adapter) apply(e cluster.EngineID, seq uint64, b *kvevents.Batch) error {
	sc := a.pool.Get().(*scratch)
	defer a.pool.Put(sc)
	sc.events, sc.hashes = sc.events[:0], sc.hashes[:0]
	// Hashes first (the slices below must not move once taken).
	for i := range b.Events {
		for _, h := range b.Events[i].BlockHashes {
			sc.hashes = append(sc.hashes, h.Key())
		}
	}
	off := 0
	for i := range b.Events {
		ev := &b.Events[i]
		hs := sc.hashes[off : off+len(ev.BlockHashes) : off+len(ev.BlockHashes)]
		off += len(ev.BlockHashes)
		var out cluster.Event
		switch ev.Type {
		case kvevents.BlockStored, kvevents.BlockRemoved:
			tier, ok := a.media[ev.Medium.Val]
			if !ok {
				a.skipped.Add(1)
				continue
			}
			out = cluster.Event{Kind: cluster.Stored, Hashes: hs, Tier: tier}
			if ev.Type == kvevents.BlockRemoved {
				out.Kind = cluster.Removed
			} else if p, ok := ev.ParentBlockHash.Get(); ok {
				out.Parent, out.HasParent = p.Key(), true
			}
		case kvevents.AllBlocksCleared:
			out = cluster.Event{Kind: cluster.Cleared}
		default:
			a.skipped.Add(1)
			continue
		}
		sc.events = append(sc.events, out)
	}
	err := a.feed.Apply(cluster.Batch{Engine: e, Seq: seq, Events: sc.events})
	if errors.Is(err, cluster.ErrInvalidBatch) && cluster.ValidateEngineID(e) == nil {
		// Too large to queue: the index must not keep what this batch removed.
		if lerr := a.feed.Lost(e, seq, seq+1); lerr != nil {
			err = errors.Join(err, lerr)
		}
	}
	if err != nil {
		return fmt.Errorf("engine %q batch %d: %w", e, seq, err)
	}
	a.batches.Add(1)
	a.events.Add(uint64(len(sc.events)))
	return nil
}

func (a *Adapter) refuse(err error) {
	a.refused.Add(1)
	a.mu.Lock()
	a.lastErr = err.Error()
	a.mu.Unlock()
}

// Stats returns the counters.
func (a *Adapter) Stats() Stats {
	s := Stats{Batches: a.batches.Load(), Events: a.events.Load(), SkippedEvents: a.skipped.Load(),
		Losses: a.losses.Load(), Restarts: a.restarts.Load(), Clears: a.clears.Load(),
		Recovered: a.recovered.Load(), Refused: a.refused.Load()}
	a.mu.Lock()
	s.LastError = a.lastErr
	a.mu.Unlock()
	return s
}

// Resume returns ep set to continue where idx stands for this engine: when the
// index knows the engine as live (a Redis index shared by router replicas, or one
// that survived a router restart) and ep.NextSeq is not set, NextSeq becomes the
// index's next sequence number, so the subscriber replays only what the index
// misses instead of everything the publisher still buffers. Errors: the index's.
func Resume(ctx context.Context, idx cluster.Index, ep kvevents.Endpoint) (kvevents.Endpoint, error) {
	if ep.NextSeq.Valid {
		return ep, nil
	}
	info, err := idx.Engine(ctx, cluster.EngineID(ep.Engine))
	if err != nil {
		return ep, err
	}
	if info.State == cluster.EngineLive {
		ep.NextSeq = kvevents.Some(info.Next)
	}
	return ep, nil
}
