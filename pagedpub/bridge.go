package pagedpub

import (
	"errors"
	"fmt"
	"time"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
)

// Errors returned by this package; test with errors.Is.
var (
	// ErrConfig reports an invalid Config or Manager.
	ErrConfig = errors.New("pagedpub: invalid configuration")
	// ErrPublish wraps the Sink's error when a batch could not be published.
	ErrPublish = errors.New("pagedpub: publish failed")
)

// Sink receives the batches a Bridge publishes. *kvevents.Publisher is one (it
// numbers, buffers and sends them over ZeroMQ); tests and other transports may
// supply their own. Publish must not keep b or anything it points to after it
// returns.
type Sink interface {
	Publish(b *kvevents.Batch) (uint64, error)
}

// Config configures a Bridge. Sink is required; every other zero field means its
// documented default.
type Config struct {
	// Sink receives one batch per Step that has events (required).
	Sink Sink
	// ConvertOptions: raw or integer hashes, LoRA ids (default: vLLM's defaults).
	ConvertOptions
	// Layout of the published events (default kvevents.LayoutMap, vLLM's since
	// 2026-06; LayoutArray for consumers of older vLLM).
	Layout kvevents.Layout
	// Clock gives each batch's ts in Unix seconds (default: the wall clock). A
	// simulated engine passes its simulated time.
	Clock func() float64
}

// Stats counts what a Bridge did.
type Stats struct {
	Steps     uint64 // Step calls
	Batches   uint64 // batches the Sink accepted
	Events    uint64 // events in those batches
	Resyncs   uint64 // resyncs published (after a loss, a new sink, or Resync)
	Dropped   uint64 // events the Manager's queue dropped (TakeEvents' losses)
	Failed    uint64 // batches the Sink refused (their events were resynced)
	LastSeq   uint64 // sequence number of the last accepted batch
	Published bool   // a batch was accepted (LastSeq is meaningful)
}

// StepResult says what one Step did.
type StepResult struct {
	// Published: a batch was accepted by the Sink, with sequence number Seq and
	// Events events.
	Published bool
	Seq       uint64
	Events    int
	// Resync: the batch starts with AllBlocksCleared and re-announces the cache.
	Resync bool
	// Dropped is the number of events the Manager's queue dropped since the last
	// Step (the reason for a resync).
	Dropped uint64
}

type resyncReason uint8

const (
	noResync    resyncReason = iota
	resyncStart              // a new sink: announce the cache if it is not empty
	resyncLoss               // subscribers may hold stale entries: always clear
)

// Bridge publishes a paged.Manager's prefix-cache events as a vLLM engine does:
// each Step takes the events queued since the last one (TakeEvents, holding the
// Manager's lock only for that copy), converts them (Converter) and publishes them
// as one KVEventBatch — vLLM's engine core also publishes one batch per scheduler
// step that has events, and nothing for a step without.
//
// Subscribers never keep stale entries: when the Manager's bounded queue dropped
// events, or a batch could not be published, the next Step publishes a resync —
// AllBlocksCleared followed by a BlockStored for every block cached at that moment
// (paged.Manager.ResyncEvents) — instead of the incomplete events, so a subscriber
// that applies batches in order ends with exactly the cache. The first Step after
// New or SetSink does the same when the cache is not empty (a new or restarted
// publisher announces what is already cached; a subscriber of the old publisher
// has dropped its entries on seeing the sequence restart).
//
// A Bridge is not safe for concurrent use: one goroutine (the engine's step loop or
// a publisher goroutine) calls Step; the Manager itself may be used concurrently.
// Run Step on a publisher goroutine, not in the step loop: taking and converting a
// 256-sequence decode step's events costs ~8 µs, but encoding and the ZeroMQ send
// ~40 µs more, as much as the Manager's decode step itself (only TakeEvents holds
// the Manager's lock, so a publisher goroutine leaves the step's cost unchanged).
// The Bridge must be the Manager's only consumer of TakeEvents and ResyncEvents
// (each drains the queue).
type Bridge struct {
	m      *paged.Manager
	cfg    Config
	conv   *Converter
	evs    []paged.Event
	batch  kvevents.Batch
	resync resyncReason
	stats  Stats
}

// New returns a Bridge publishing m's events to cfg.Sink. The Manager must record
// events (paged.Config.Events.Enabled). The events the Manager queued before New
// are discarded; if its cache is not empty then, the first Step announces it.
// Errors wrap ErrConfig.
func New(m *paged.Manager, cfg Config) (*Bridge, error) {
	switch {
	case m == nil:
		return nil, fmt.Errorf("%w: nil Manager", ErrConfig)
	case !m.Config().Events.Enabled:
		return nil, fmt.Errorf("%w: the Manager records no events (set paged.Config.Events.Enabled)", ErrConfig)
	case cfg.Sink == nil:
		return nil, fmt.Errorf("%w: Sink is required", ErrConfig)
	case cfg.Layout != kvevents.LayoutMap && cfg.Layout != kvevents.LayoutArray:
		return nil, fmt.Errorf("%w: layout %d", ErrConfig, cfg.Layout)
	}
	if cfg.Clock == nil {
		cfg.Clock = wallClock
	}
	if cfg.ConvertOptions.Groups == nil {
		cfg.ConvertOptions.Groups = m.Groups()
	}
	b := &Bridge{m: m, cfg: cfg, conv: NewConverter(cfg.ConvertOptions)}
	// Events queued before now describe a history no subscriber of this Bridge saw:
	// drop them; a cache that is not empty is announced by the first Step.
	if b.evs = m.ResyncEvents(b.evs[:0]); len(b.evs) > 1 {
		b.resync = resyncStart
	}
	return b, nil
}

func wallClock() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// Step publishes the events queued since the last Step as one batch (none when
// there are none), or a resync (see Bridge). On a Sink error the events are lost
// to subscribers, so the next Step resyncs; the error wraps ErrPublish. In steady
// state Step allocates nothing itself (the Sink may).
func (b *Bridge) Step() (StepResult, error) {
	var r StepResult
	b.stats.Steps++
	b.evs, r.Dropped = b.m.TakeEvents(b.evs[:0])
	b.stats.Dropped += r.Dropped
	if r.Dropped > 0 {
		b.resync = resyncLoss
	}
	if b.resync != noResync {
		b.evs = b.m.ResyncEvents(b.evs[:0])
		r.Resync = true
		if b.resync == resyncStart && len(b.evs) == 1 { // only the clear: nothing to announce
			b.evs, r.Resync = b.evs[:0], false
		}
		b.resync = noResync
	}
	if len(b.evs) == 0 {
		return r, nil
	}
	b.batch.Events = b.conv.Append(b.batch.Events[:0], b.evs)
	b.batch.TS, b.batch.Layout = b.cfg.Clock(), b.cfg.Layout
	seq, err := b.cfg.Sink.Publish(&b.batch)
	if err != nil {
		b.stats.Failed++
		b.resync = resyncLoss
		return StepResult{Dropped: r.Dropped}, fmt.Errorf("%w: %d events: %w", ErrPublish, len(b.evs), err)
	}
	r.Published, r.Seq, r.Events = true, seq, len(b.batch.Events)
	b.stats.Batches++
	b.stats.Events += uint64(r.Events)
	b.stats.LastSeq, b.stats.Published = seq, true
	if r.Resync {
		b.stats.Resyncs++
	}
	return r, nil
}

// SetSink replaces the Sink (e.g. a restarted kvevents.Publisher, whose sequence
// numbers start again at 0). The next Step announces the cache to the new sink if
// it is not empty.
func (b *Bridge) SetSink(s Sink) error {
	if s == nil {
		return fmt.Errorf("%w: Sink is required", ErrConfig)
	}
	b.cfg.Sink = s
	if b.resync == noResync {
		b.resync = resyncStart
	}
	return nil
}

// Resync makes the next Step publish AllBlocksCleared and re-announce the whole
// cache, e.g. on an operator's request or after the application lost track.
func (b *Bridge) Resync() { b.resync = resyncLoss }

// Stats returns the Bridge's counters.
func (b *Bridge) Stats() Stats { return b.stats }
