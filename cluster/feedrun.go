package cluster

import (
	"context"
	"errors"
)

// processor applies a Feed's queued ops. One goroutine at a time runs it (the
// Feed's worker, or Flush in Manual mode) under Feed.procMu.
//
// A pass takes every engine's queue, then alternates: one ApplyBatches call with the
// leading batches of every engine (up to MaxApplyBatches), until no engine's next op
// is a batch; then each engine's leading engine operation. Ops not done when an index
// call fails go back to the front of their engine's queue.
type processor struct {
	f      *Feed
	work   []workItem
	group  []Batch
	owners []int // group[j] belongs to work[owners[j]]
	res    []ApplyResult
	delta  FeedStats // counters to merge into the Feed's
	ok     bool      // an index call succeeded in this pass
}

type workItem struct {
	e        *feedEngine
	ops      []feedOp
	cur      int    // next op to do
	finished uint64 // non-synthetic ops done
	blocked  bool   // within one group: a batch of this engine must be redone
}

func (w *workItem) advance() {
	if !w.ops[w.cur].synthetic {
		w.finished++
	}
	w.cur++
}

// resyncBefore inserts a Resync(seq) before the next op and leaves the cursor on it.
func (w *workItem) resyncBefore(seq uint64) {
	op := feedOp{kind: opResync, next: seq, synthetic: true}
	w.ops = append(w.ops[:w.cur], append([]feedOp{op}, w.ops[w.cur:]...)...)
}

// drain applies queued ops until none are left or an index call fails.
func (p *processor) drain(ctx context.Context) error {
	for p.take() {
		err := p.runWork(ctx)
		p.giveBack(err)
		if err != nil {
			if p.f.cfg.OnError != nil {
				p.f.cfg.OnError(err)
			}
			return err
		}
	}
	return nil
}

// take moves every queued op into p.work; false when there is nothing to do.
func (p *processor) take() bool {
	f := p.f
	f.mu.Lock()
	defer f.mu.Unlock()
	p.work = p.work[:0]
	if f.closed {
		return false
	}
	for _, e := range f.ready {
		p.work = append(p.work, workItem{e: e, ops: e.ops})
		e.ops, e.hashes, e.batches, e.queued = nil, 0, 0, false
	}
	clear(f.ready)
	f.ready = f.ready[:0]
	return len(p.work) > 0
}

func (p *processor) runWork(ctx context.Context) error {
	limit := p.f.cfg.MaxApplyBatches
	for {
		p.group, p.owners = p.group[:0], p.owners[:0]
		for wi := range p.work {
			w := &p.work[wi]
			for k := w.cur; k < len(w.ops) && w.ops[k].kind == opBatch && len(p.group) < limit; k++ {
				p.group = append(p.group, w.ops[k].batch)
				p.owners = append(p.owners, wi)
			}
		}
		if len(p.group) > 0 {
			if err := p.applyGroup(ctx); err != nil {
				return err
			}
			continue
		}
		progressed := false
		for wi := range p.work {
			if w := &p.work[wi]; w.cur < len(w.ops) {
				if err := p.control(ctx, w); err != nil {
					return err
				}
				progressed = true
			}
		}
		if !progressed {
			return nil
		}
	}
}

// applyGroup applies p.group in one call and advances the engines' cursors past the
// batches whose outcome is known.
func (p *processor) applyGroup(ctx context.Context) error {
	idx := p.f.Index()
	cctx, cancel := context.WithTimeout(ctx, p.f.cfg.Timeout)
	var err error
	p.res, err = idx.ApplyBatches(cctx, p.group, p.res[:0])
	cancel()
	p.delta.Calls++
	for wi := range p.work {
		p.work[wi].blocked = false
	}
	for j, r := range p.res {
		p.outcome(j, r)
	}
	switch {
	case err == nil:
		p.ok = true
		return nil
	case len(p.res) >= len(p.group):
		// Every outcome known and still an error: treat as a failed call.
	case errors.Is(err, ErrInvalidBatch):
		// Validated before anything ran: find the culprit one batch at a time.
		p.ok = true
		return p.oneByOne(ctx)
	case errors.Is(err, ErrInvalidArgument): // e.g. ErrTooManyEngines
		p.ok = true
		p.reject(len(p.res))
		return nil
	}
	p.fail(err)
	return err
}

// outcome handles the result of group batch j.
func (p *processor) outcome(j int, r ApplyResult) {
	w := &p.work[p.owners[j]]
	if w.blocked {
		return // a batch of this engine before j is to be redone; so is j
	}
	switch r.Outcome {
	case Applied:
		p.delta.Applied++
		w.advance()
	case Duplicate:
		p.delta.Duplicates++
		w.advance()
	default: // Gap or Refused: the index lost our place; start it again here
		w.resyncBefore(p.group[j].Seq)
		w.blocked = true
	}
}

// reject drops group batch j, which the index refused.
func (p *processor) reject(j int) {
	w := &p.work[p.owners[j]]
	if w.blocked {
		return
	}
	p.delta.Rejected++
	p.delta.DiscardedBatches++
	w.advance()
	// Later batches of the engine meet a Gap, which resyncs it: nothing stale stays.
	w.blocked = true
}

func (p *processor) oneByOne(ctx context.Context) error {
	idx := p.f.Index()
	for j := range p.group {
		if p.work[p.owners[j]].blocked {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, p.f.cfg.Timeout)
		r, err := idx.Apply(cctx, p.group[j])
		cancel()
		p.delta.Calls++
		switch {
		case err == nil:
			p.outcome(j, r)
		case errors.Is(err, ErrInvalidBatch), errors.Is(err, ErrInvalidArgument):
			p.reject(j)
		default:
			p.fail(err)
			return err
		}
	}
	return nil
}

// control carries out w's next op, an engine operation.
func (p *processor) control(ctx context.Context, w *workItem) error {
	idx := p.f.Index()
	op := &w.ops[w.cur]
	id := w.e.id
	cctx, cancel := context.WithTimeout(ctx, p.f.cfg.Timeout)
	defer cancel()
	var err error
	switch op.kind {
	case opResync:
		if err = idx.Resync(cctx, id, op.next); err == nil {
			p.delta.Resyncs++
			if op.restart {
				p.delta.Restarts++
			}
		}
	case opLost:
		var info EngineInfo
		if info, err = idx.Engine(cctx, id); err != nil {
			break
		}
		if info.State == EngineLive && info.Next >= op.next {
			p.delta.LossesCovered++
			break
		}
		if err = idx.MarkStale(cctx, id); err != nil {
			break
		}
		if err = idx.Resync(cctx, id, op.next); err == nil {
			p.delta.Losses++
			p.delta.Resyncs++
		}
	case opDrop:
		if err = idx.DropEngine(cctx, id); err == nil {
			p.delta.Drops++
		}
	}
	switch {
	case err == nil:
		p.ok = true
	case errors.Is(err, ErrInvalidArgument):
		p.ok = true
		p.delta.Rejected++
	default:
		p.fail(err)
		return err
	}
	w.advance()
	return nil
}

func (p *processor) fail(err error) {
	p.delta.Errors++
	p.delta.Unavailable = true
	p.delta.LastError = err.Error()
}

// giveBack puts the ops not done back at the front of their queues and merges the
// counters.
func (p *processor) giveBack(err error) {
	f := p.f
	f.mu.Lock()
	defer f.mu.Unlock()
	var finished uint64
	for wi := range p.work {
		w := &p.work[wi]
		finished += w.finished
		rest := w.ops[w.cur:]
		if len(rest) == 0 {
			continue
		}
		e := w.e
		if f.closed {
			for i := range rest {
				if rest[i].kind == opBatch {
					f.stats.DiscardedBatches++
				}
			}
			continue
		}
		merged := make([]feedOp, 0, len(rest)+len(e.ops))
		merged = append(append(merged, rest...), e.ops...)
		e.ops, e.hashes, e.batches = merged, 0, 0
		for i := range merged {
			if merged[i].kind == opBatch {
				e.batches++
				e.hashes += merged[i].hashes()
			}
		}
		if !e.queued {
			e.queued = true
			f.ready = append(f.ready, e)
		}
	}
	clear(p.work)
	p.work = p.work[:0]
	d := &p.delta
	s := &f.stats
	s.Calls += d.Calls
	s.Applied += d.Applied
	s.Duplicates += d.Duplicates
	s.Restarts += d.Restarts
	s.Losses += d.Losses
	s.LossesCovered += d.LossesCovered
	s.Drops += d.Drops
	s.Resyncs += d.Resyncs
	s.DiscardedBatches += d.DiscardedBatches
	s.Rejected += d.Rejected
	s.Errors += d.Errors
	switch {
	case err != nil:
		s.Unavailable, s.LastError = true, d.LastError
	case p.ok:
		s.Unavailable, s.LastError = false, ""
	}
	p.delta, p.ok = FeedStats{}, false
	f.finish(finished)
}

// Index returns the index the feed applies to.
func (f *Feed) Index() Index { return f.cfg.Index }

// slab carves the feed's copies of batches from shared blocks: one allocation serves
// many batches, and a block is freed once every batch in it has been applied.
type slab struct {
	hashes []uint64
	events []Event
}

const (
	slabHashes = 8192
	slabEvents = 512
)

func (s *slab) copyBatch(b *Batch) Batch {
	out := Batch{Engine: b.Engine, Seq: b.Seq}
	if len(b.Events) == 0 {
		return out
	}
	out.Events = carve(&s.events, len(b.Events), slabEvents)
	copy(out.Events, b.Events)
	for i := range out.Events {
		ev := &out.Events[i]
		if len(ev.Hashes) == 0 {
			ev.Hashes = nil
			continue
		}
		hs := carve(&s.hashes, len(ev.Hashes), slabHashes)
		copy(hs, ev.Hashes)
		ev.Hashes = hs
	}
	return out
}

// carve returns n fresh elements from the block *buf (len = used), starting a new
// block of size when it is full; larger requests get their own allocation.
func carve[T any](buf *[]T, n, size int) []T {
	if n > size/4 {
		return make([]T, n)
	}
	if len(*buf)+n > cap(*buf) {
		*buf = make([]T, 0, size)
	}
	start := len(*buf)
	*buf = (*buf)[:start+n]
	return (*buf)[start : start+n : start+n]
}
