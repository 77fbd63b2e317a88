package sim

import (
	"fmt"
	"iter"
	"math"

	"github.com/pagedkv/pagedkv/workload"
)

// sourceSpan is what the first pass over a source finds.
type sourceSpan struct {
	count       int
	first, last float64 // first and last arrival
}

// scan ranges over src once: it counts the requests, validates each, checks that
// arrivals never go back, and returns the arrival window.
func scan(src workload.Source) (sourceSpan, error) {
	var s sourceSpan
	for r, err := range src {
		if err != nil {
			return s, err
		}
		if err := r.Validate(); err != nil {
			return s, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if s.count > 0 && r.Arrival < s.last {
			return s, fmt.Errorf("%w: request %d arrives at %v s, before its predecessor at %v s (sources must yield in arrival order)",
				ErrInvalid, r.ID, r.Arrival, s.last)
		}
		if s.count == 0 {
			s.first = r.Arrival
		}
		s.last = r.Arrival
		s.count++
	}
	if s.count == 0 {
		return s, fmt.Errorf("%w: no requests", ErrInvalid)
	}
	return s, nil
}

// window returns the arrival window the memory shares average over: first to last
// arrival, or the whole run when every request arrives at once.
func (s sourceSpan) window() (start, end float64) {
	start, end = s.first, s.last
	if end <= start {
		end = math.Inf(1)
	}
	return start, end
}

// arrivals reads the source during the run, one request ahead: head is the next
// request the engine has not taken (has is false once the source is exhausted).
type arrivals struct {
	next func() (workload.Request, error, bool)
	stop func()
	head workload.Request
	has  bool
	err  error // the source's error, if it failed during the run
}

func (a *arrivals) open(src workload.Source) {
	a.next, a.stop = iter.Pull2(src.Seq())
	a.advance()
}

func (a *arrivals) close() { a.stop() }

func (a *arrivals) advance() {
	var err error
	a.head, err, a.has = a.next()
	if err != nil {
		a.err, a.has = err, false
	}
}

// arrived reports whether the head request has arrived by now.
func (a *arrivals) arrived(now float64) bool { return a.has && a.head.Arrival <= now }

// take returns the head request and reads the next one.
func (a *arrivals) take() workload.Request {
	r := a.head
	a.advance()
	return r
}

// haveWaiting makes sure the waiting queue's front is materialised whenever a
// request is waiting: it takes arrived requests from the source (rejecting those
// too long for the model) until one is queued. It reports whether any request
// waits.
func (e *engine) haveWaiting() bool {
	for len(e.waiting) == 0 && e.arr.arrived(e.now) {
		e.accept(e.arr.take())
	}
	return len(e.waiting) > 0
}

// accept queues an arrived request, rejecting a prompt the model cannot hold and
// truncating an output that would run past the model's context. It returns the
// queued request's state, or nil when it was rejected.
func (e *engine) accept(req workload.Request) *reqState {
	maxLen := e.hw.Model.MaxSeqLen
	if len(req.Prompt) >= maxLen {
		e.m.rejected++
		e.m.tooLong++
		return nil
	}
	if len(req.Prompt)+req.OutputLen > maxLen {
		e.m.truncated++
		req.OutputLen = maxLen - len(req.Prompt)
	}
	r := &reqState{Request: req, slot: e.slots.get(), firstToken: -1, promptLen: len(req.Prompt)}
	r.final = len(r.Prompt) + r.OutputLen
	e.waiting = append(e.waiting, r)
	return r
}

// reject drops a queued request the policy cannot serve (already released).
func (e *engine) reject(r *reqState) {
	e.m.rejected++
	if e.onDone != nil {
		e.onDone(r, false)
	}
	e.slots.put(r.slot)
}

// slots hands out the small integers policies index their per-request state by.
type slots struct {
	free []int // released slots, reused last-in first-out
	next int   // slots ever handed out
}

func (s *slots) get() int {
	if n := len(s.free); n > 0 {
		v := s.free[n-1]
		s.free = s.free[:n-1]
		return v
	}
	s.next++
	return s.next - 1
}

func (s *slots) put(v int) { s.free = append(s.free, v) }
