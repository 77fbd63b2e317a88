package sim

import "github.com/pagedkv/pagedkv/hardware"

// batch is one iteration's work.
type batch struct {
	scheduled []*reqState // requests computing this iteration, in schedule order
	budget    int         // tokens left in the iteration's budget
	tokens    int         // new tokens computed (prefill chunks plus one per decoding sequence)
	context   int         // cached KV tokens read
	window    int         // the model's sliding window (0: none); windowed: the tokens its window (or chunk) layers read
	chunk     int         // the model's attention chunk (0: none)
	windowed  int
}

func (b *batch) reset(budget int) {
	clear(b.scheduled)
	b.scheduled = b.scheduled[:0]
	b.budget, b.tokens, b.context, b.windowed = budget, 0, 0, 0
}

// add schedules r to compute n new tokens over ctx tokens of context.
// Prompt tokens loaded from another engine's cache (r.fetchLeft: cluster mode,
// global cache) are reserved and committed like computed ones but cost no compute.
func (b *batch) add(r *reqState, kind, n, ctx int) {
	r.stepKind, r.stepTokens = kind, n
	b.budget -= n
	loaded := min(n, r.fetchLeft)
	r.fetchLeft -= loaded
	b.tokens += n - loaded
	b.context += ctx
	b.windowed += hardware.WindowContext(b.window, n, ctx, kind == stepDecode) + hardware.ChunkContext(b.chunk, n, ctx, kind == stepDecode)
	b.scheduled = append(b.scheduled, r)
}

// step runs one iteration: bring swapped requests back, schedule the running ones
// (preempting when memory runs out), admit waiting ones if nothing was preempted,
// advance the clock by the iteration's time, and commit what was computed.
func (e *engine) step() {
	if e.begin() {
		e.end()
	}
}

// begin schedules one iteration at e.now and sets e.dt to its duration; it reports
// false when nothing could be scheduled (after unblocking what it could). The
// cluster (cluster.go) runs begin and end at their own simulated times, so requests
// routed while the iteration runs see the state before its commit.
func (e *engine) begin() bool {
	e.iter++
	e.moved = 0
	e.swapInHead()
	b := &e.batch
	b.reset(e.cfg.MaxBatchTokens)
	b.window, b.chunk = e.hw.Model.Window, e.hw.Model.Chunk
	preempted := e.scheduleRunning(b)
	if !preempted && len(e.swapped) == 0 && (!e.static || len(e.running) == 0) {
		e.admit(b)
	}
	if hc, ok := e.pol.(hostCopier); ok {
		e.moved += hc.takeHostCopies() // host prefix-cache onloads and offloads, as swaps
	}
	if len(b.scheduled) == 0 {
		e.unblock()
		return false
	}
	dt := e.hw.IterationTimeWindowed(b.tokens, b.context, b.windowed)
	dt += e.hw.HostCopyTime(e.moved, e.cfg.BlockSize) // swaps and host-cache copies, before the forward pass
	e.record(dt)
	e.dt = dt
	return true
}

// end finishes the iteration begin scheduled: the clock advances by e.dt and what
// was computed is committed.
func (e *engine) end() {
	e.now += e.dt
	e.commit(e.batch.scheduled)
}

// scheduleRunning gives each running request, oldest first, its work: the next chunk
// of a chunked prefill, or one token per sequence. When memory runs out it preempts
// from the back (see preemptFor) and reports that it did.
func (e *engine) scheduleRunning(b *batch) (preempted bool) {
	for i := 0; i < len(e.running); i++ {
		r := e.running[i]
		r.stepKind, r.stepTokens = stepNone, 0
		if r.prefilled < r.promptLen { // a chunked prefill in progress
			chunk := min(b.budget, r.promptLen-r.prefilled)
			if chunk == 0 {
				continue
			}
			g := e.pol.prefill(r, chunk)
			if g.status != grantOK {
				preempted = true
				if e.preemptFor(r) {
					i--
					continue
				}
				break
			}
			e.skipHits(r, g)
			b.add(r, stepPrefill, g.tokens, r.prefilled+g.tokens)
			continue
		}
		for !e.pol.decode(r, e.iter) {
			preempted = true
			if !e.preemptFor(r) {
				r = nil
				break
			}
		}
		if r == nil { // r itself was preempted
			break
		}
		w := r.Width()
		b.add(r, stepDecode, w, w*r.computed)
	}
	return preempted
}

// admit starts waiting requests in order until the sequence cap, the token budget or
// memory stops it (head-of-line: a request that does not fit now blocks the rest).
func (e *engine) admit(b *batch) {
	for len(e.running) < e.cfg.MaxSeqs && e.haveWaiting() {
		r := e.waiting[0]
		remaining := r.promptLen - r.prefilled
		chunk := remaining
		if e.cfg.ChunkedPrefill {
			chunk = min(remaining, b.budget)
			if chunk <= 0 {
				return
			}
		} else if remaining > b.budget && b.tokens > 0 && !e.static {
			return
		}
		g := e.pol.prefill(r, chunk)
		switch g.status {
		case grantNever:
			e.waiting = e.waiting[1:]
			e.reject(r)
			continue
		case grantLater:
			return
		}
		e.waiting = e.waiting[1:]
		e.running = append(e.running, r)
		e.skipHits(r, g)
		b.add(r, stepPrefill, g.tokens, r.prefilled+g.tokens)
	}
}

// skipHits advances r past the prompt tokens the policy found already computed.
// On a request's first reservation (a prefix-cache query) it also records the
// query, and in cluster mode with a global cache sets how many of the prompt tokens
// after the local hits are loaded from other engines (r.remote; the last prompt
// token is always computed).
func (e *engine) skipHits(r *reqState, g grant) {
	if g.first {
		if r.remote > 0 {
			r.fetchLeft = max(0, min(r.remote-g.hits, r.promptLen-1-g.hits))
		}
		e.m.query(e, r, g.hits, g.hostHits)
	}
	if g.hits > 0 {
		r.prefilled += g.hits
		r.computed = r.prefilled
	}
}

// unblock handles an iteration in which nothing could be scheduled: a swapped-out
// request that cannot come back while nothing runs is recomputed instead, and a
// waiting request that cannot fit even alone is rejected.
func (e *engine) unblock() {
	if len(e.running) > 0 {
		return
	}
	if len(e.swapped) > 0 { // the head cannot come back (watermark): recompute it
		r := e.swapped[0]
		e.swapped = e.swapped[1:]
		e.pol.release(r)
		e.requeue(r)
		return
	}
	if e.haveWaiting() { // cannot fit even alone
		r := e.waiting[0]
		e.pol.release(r)
		e.waiting = e.waiting[1:]
		e.reject(r)
	}
}

// commit applies the iteration's work to each scheduled request and finishes those
// that are done.
func (e *engine) commit(scheduled []*reqState) {
	for _, r := range scheduled {
		if r.stepKind == stepNone {
			continue // preempted after being scheduled (cannot happen: victims come after)
		}
		e.pol.commit(r)
		switch r.stepKind {
		case stepPrefill:
			r.prefilled += r.stepTokens
			r.computed = r.prefilled
			if r.prefilled == r.promptLen {
				r.generated++
				if r.firstToken < 0 {
					r.firstToken = e.now
				}
			}
		case stepDecode:
			r.computed++
			r.generated++
		}
		r.stepKind = stepNone
		if r.generated >= r.OutputLen && r.prefilled == r.promptLen {
			e.finish(r)
		}
	}
}

// finish releases a completed request and records it.
func (e *engine) finish(r *reqState) {
	e.pol.release(r)
	for i, x := range e.running {
		if x == r {
			e.running = append(e.running[:i], e.running[i+1:]...)
			break
		}
	}
	r.finish = e.now
	e.m.finish(r)
	if e.onDone != nil {
		e.onDone(r, true)
	}
	e.slots.put(r.slot)
}
