package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// FeedConfig configures a Feed. Index is required; a zero field means its default.
type FeedConfig struct {
	// Index receives the updates (required).
	Index Index
	// MaxQueuedBatches bounds the batches queued for one engine (default 4,096). A
	// batch that would exceed it (or MaxQueuedHashes) discards the engine's queue:
	// the engine is marked stale and resynced at that batch, so its entries are
	// dropped rather than kept behind a hole.
	MaxQueuedBatches int
	// MaxQueuedHashes bounds the block hashes queued for one engine (default 1<<20,
	// 8 MiB). A single batch may carry at most this many.
	MaxQueuedHashes int
	// MaxApplyBatches is the most batches one ApplyBatches call carries (default
	// 256): one lock pass in memory, one pipelined round trip on Redis.
	MaxApplyBatches int
	// RetryInterval is the pause before the feed retries an index call that failed
	// (ErrUnavailable, a timeout; default 250 ms). Queued updates are kept meanwhile,
	// within the bounds.
	RetryInterval time.Duration
	// Timeout bounds one index call (default 5 s).
	Timeout time.Duration
	// Manual runs no background goroutine: updates are applied only when the owner
	// calls Flush, in the owner's goroutine (simulators, tests). Default false: a
	// goroutine applies updates as they arrive.
	Manual bool
	// OnError, if set, is called with every failed index call (from the goroutine
	// that applies updates; it must not call the Feed).
	OnError func(error)
}

// Defaults of FeedConfig.
const (
	DefaultFeedMaxQueuedBatches = 4096
	DefaultFeedMaxQueuedHashes  = 1 << 20
	DefaultFeedMaxApplyBatches  = 256
	DefaultFeedRetryInterval    = 250 * time.Millisecond
	DefaultFeedTimeout          = 5 * time.Second
)

// DefaultFeedConfig returns the defaults spelled out (Index still to be set).
func DefaultFeedConfig() FeedConfig {
	return FeedConfig{MaxQueuedBatches: DefaultFeedMaxQueuedBatches, MaxQueuedHashes: DefaultFeedMaxQueuedHashes,
		MaxApplyBatches: DefaultFeedMaxApplyBatches, RetryInterval: DefaultFeedRetryInterval, Timeout: DefaultFeedTimeout}
}

func (c *FeedConfig) fill() error {
	if c.Index == nil {
		return fmt.Errorf("%w: feed needs an Index", ErrInvalidConfig)
	}
	d := DefaultFeedConfig()
	if c.MaxQueuedBatches == 0 {
		c.MaxQueuedBatches = d.MaxQueuedBatches
	}
	if c.MaxQueuedHashes == 0 {
		c.MaxQueuedHashes = d.MaxQueuedHashes
	}
	if c.MaxApplyBatches == 0 {
		c.MaxApplyBatches = d.MaxApplyBatches
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = d.RetryInterval
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.MaxQueuedBatches < 0 || c.MaxQueuedHashes < 0 || c.MaxApplyBatches < 0 || c.RetryInterval < 0 || c.Timeout < 0 {
		return fmt.Errorf("%w: negative feed bound, interval or timeout", ErrInvalidConfig)
	}
	return nil
}

// Feed applies engines' update streams to an Index: batches in order per engine,
// grouped into ApplyBatches calls for throughput, with an engine's restart, lost
// batches and departure applied at their place in its stream. It is what the
// adapters (kvevents' subscriber through cluster/kvfeed, paged.Manager through
// ManagerSource) hand their updates to.
//
// Producers never block: each engine has a bounded queue, and an engine whose
// queue overflows is resynced at its newest batch (entries dropped, never kept
// behind a hole). An index that fails (Redis unreachable) keeps the queues
// waiting, within their bounds, and is retried every RetryInterval; batches whose
// fate is unknown are applied again (the index ignores duplicates). Nothing is lost
// that way, so an engine is marked stale only when its queue overflowed meanwhile
// (it is then resynced once the index is back); routers cannot match an unreachable
// index either (they route on load), and once it is back the entries lag the stream
// by the queue, as they always lag it by the feed's latency. An engine whose
// batches the index answers with Gap or Refused (another writer resynced it, or the
// index lost state) is resynced at the batch and the batch applied again.
//
// A Feed is safe for concurrent use; updates of one engine must come from one
// goroutine in order (as kvevents delivers them).
type Feed struct {
	cfg FeedConfig

	mu      sync.Mutex
	engines map[EngineID]*feedEngine // guarded by mu
	ready   []*feedEngine            // engines with queued ops, guarded by mu
	enq     uint64                   // ops enqueued (Flush targets), guarded by mu
	done    uint64                   // ops finished, guarded by mu
	moved   chan struct{}            // closed and replaced when done moves or the feed closes
	closed  bool
	stats   FeedStats // counters, guarded by mu
	slab    slab      // guarded by mu

	procMu  sync.Mutex // one goroutine processes at a time
	proc    processor  // guarded by procMu
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	stopped chan struct{}
}

// feedEngine is one engine's queue. Invariants: queued ⇔ listed in Feed.ready;
// hashes = Σ hashes of ops[head:]; len(ops)−head batches and ops ≤ the bounds
// except transiently after a failed call put ops back.
type feedEngine struct {
	id        EngineID
	ops       []feedOp
	hashes    int
	batches   int
	queued    bool
	overflows uint64 // times the queue overflowed
}

type opKind uint8

const (
	opBatch  opKind = iota + 1
	opResync        // Resync(engine, next)
	opLost          // MarkStale, then Resync(engine, next) unless the index is past it
	opDrop          // DropEngine
)

type feedOp struct {
	kind      opKind
	batch     Batch  // opBatch: events and hashes owned by the feed
	next      uint64 // opResync, opLost: the sequence number to resync at
	from      uint64 // opLost: the first lost batch
	restart   bool   // opResync: a restart (counted as one)
	synthetic bool   // inserted by the feed itself: not counted in enq/done
}

func (o *feedOp) hashes() int {
	n := 0
	for i := range o.batch.Events {
		n += len(o.batch.Events[i].Hashes)
	}
	return n
}

// NewFeed validates cfg and returns a running Feed (unless cfg.Manual).
func NewFeed(cfg FeedConfig) (*Feed, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	f := &Feed{cfg: cfg, engines: make(map[EngineID]*feedEngine), moved: make(chan struct{}),
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.proc.f = f
	if cfg.Manual {
		close(f.stopped)
	} else {
		go f.run()
	}
	return f, nil
}

// Apply queues batch b (copied: the caller may reuse its memory). Batches of one
// engine must be queued in sequence order. Errors: ErrInvalidBatch (b is malformed
// or carries more than MaxQueuedHashes hashes; nothing queued: the caller should
// report the batch Lost), ErrClosed.
func (f *Feed) Apply(b Batch) error {
	if err := validateBatch(&b, f.cfg.MaxQueuedHashes); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	e := f.engine(b.Engine)
	op := feedOp{kind: opBatch, batch: f.slab.copyBatch(&b)}
	n := op.hashes()
	if e.batches+1 > f.cfg.MaxQueuedBatches || e.hashes+n > f.cfg.MaxQueuedHashes {
		f.overflow(e, b.Seq)
	}
	f.push(e, op, n)
	return nil
}

// Restart says the engine restarted and numbers its batches from next again (vLLM
// publishes from 0): its entries are discarded (Resync(engine, next)) once the
// batches queued before are through. Errors: ErrInvalidArgument, ErrClosed.
func (f *Feed) Restart(e EngineID, next uint64) error {
	return f.control(e, feedOp{kind: opResync, next: next, restart: true})
}

// Lost says the engine's batches [from, to) will never arrive: the engine is marked
// stale and resynced at to (its entries discarded; the batches from to on are
// applied), unless the index has already applied them (another writer, or a
// previous run of this router on a shared index). Errors: ErrInvalidArgument,
// ErrClosed.
func (f *Feed) Lost(e EngineID, from, to uint64) error {
	if from > to {
		return fmt.Errorf("%w: lost range [%d, %d)", ErrInvalidArgument, from, to)
	}
	return f.control(e, feedOp{kind: opLost, from: from, next: to})
}

// Drop says the engine is gone: its entries and sequence state are discarded
// (DropEngine) once the batches queued before are through. Errors:
// ErrInvalidArgument, ErrClosed.
func (f *Feed) Drop(e EngineID) error {
	return f.control(e, feedOp{kind: opDrop})
}

func (f *Feed) control(e EngineID, op feedOp) error {
	if err := ValidateEngineID(e); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if op.next > MaxSeq {
		return fmt.Errorf("%w: engine %s: sequence number %d exceeds %d", ErrInvalidArgument, e, op.next, uint64(MaxSeq))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	f.push(f.engine(e), op, 0)
	return nil
}

// Overflows returns how many times engine e's queue overflowed: its queued batches
// were discarded and the engine is resynced at the batch that overflowed, so the
// index misses what the discarded batches stored. A source that can announce its
// engine's cache again (ManagerSource) does so when this grows.
func (f *Feed) Overflows(e EngineID) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if en := f.engines[e]; en != nil {
		return en.overflows
	}
	return 0
}

// engine returns e's queue, creating it. Called under mu.
func (f *Feed) engine(id EngineID) *feedEngine {
	e := f.engines[id]
	if e == nil {
		e = &feedEngine{id: id}
		f.engines[id] = e
	}
	return e
}

// push appends op to e's queue and wakes the worker. Called under mu.
func (f *Feed) push(e *feedEngine, op feedOp, hashes int) {
	e.ops = append(e.ops, op)
	e.hashes += hashes
	if op.kind == opBatch {
		e.batches++
	}
	if !op.synthetic {
		f.enq++
	}
	if !e.queued {
		e.queued = true
		f.ready = append(f.ready, e)
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// overflow discards e's queue before batch seq and queues a loss up to seq in its
// place. Called under mu.
func (f *Feed) overflow(e *feedEngine, seq uint64) {
	from := seq
	finished := uint64(0)
	for i := range e.ops {
		op := &e.ops[i]
		if op.kind == opBatch {
			from = min(from, op.batch.Seq)
			f.stats.DiscardedBatches++
		}
		if !op.synthetic {
			finished++
		}
	}
	e.ops = e.ops[:0]
	e.hashes, e.batches = 0, 0
	e.overflows++
	f.stats.Overflows++
	f.finish(finished)
	f.push(e, feedOp{kind: opLost, from: from, next: seq}, 0)
}

// finish records n finished ops. Called under mu.
func (f *Feed) finish(n uint64) {
	if n == 0 {
		return
	}
	f.done += n
	close(f.moved)
	f.moved = make(chan struct{})
}

// Flush waits until every update queued before the call has been applied (Manual:
// applies them in the caller's goroutine). It returns the index's error when a call
// failed and updates are still queued (Manual), or ctx's error with the last index
// error when ctx ends first; ErrClosed if the feed is closed.
func (f *Feed) Flush(ctx context.Context) error {
	f.mu.Lock()
	target := f.enq
	f.mu.Unlock()
	if f.cfg.Manual {
		f.procMu.Lock()
		err := f.proc.drain(ctx)
		f.procMu.Unlock()
		if err != nil {
			return err
		}
	}
	for {
		f.mu.Lock()
		done, closed, moved := f.done, f.closed, f.moved
		f.mu.Unlock()
		switch {
		case done >= target:
			return nil
		case closed:
			return ErrClosed
		}
		select {
		case <-moved:
		case <-ctx.Done():
			f.mu.Lock()
			last := f.stats.LastError
			f.mu.Unlock()
			if last != "" {
				return fmt.Errorf("%w (index: %s)", ctx.Err(), last)
			}
			return ctx.Err()
		}
	}
}

// Close stops the feed: queued updates are discarded (Flush first to apply them)
// and later calls return ErrClosed. It waits for the background goroutine and is
// idempotent.
func (f *Feed) Close() error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		for _, e := range f.engines {
			f.stats.DiscardedBatches += uint64(e.batches)
			e.ops, e.hashes, e.batches, e.queued = nil, 0, 0, false
		}
		f.ready = nil
		close(f.moved)
		f.moved = make(chan struct{})
	}
	f.mu.Unlock()
	f.cancel()
	<-f.stopped
	return nil
}

// run is the background goroutine: it applies what arrives and retries after
// failures.
func (f *Feed) run() {
	defer close(f.stopped)
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-f.wake:
		}
		f.procMu.Lock()
		err := f.proc.drain(f.ctx)
		f.procMu.Unlock()
		if err == nil || errors.Is(err, ErrClosed) && f.ctx.Err() != nil {
			continue
		}
		t := time.NewTimer(f.cfg.RetryInterval)
		select {
		case <-f.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}
