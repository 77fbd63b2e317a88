package sim

import (
	"fmt"
	"time"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/workload"
)

// Run simulates serving the requests of src and returns the metrics. It ranges over
// src twice: first to count the requests, check them (workload.Request.Validate,
// arrival order) and find the arrival window, then to serve them, taking each from
// the source only when the engine needs it, so memory holds only the requests in
// flight. Errors wrap ErrInvalid, or are the source's own.
func Run(cfg Config, src workload.Source) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := cfg.validateHostCachePolicy(); err != nil {
		return nil, err
	}
	span, err := scan(src)
	if err != nil {
		return nil, err
	}
	def, _ := lookupPolicy(cfg.Policy)
	pol, err := def.make(&cfg)
	if err != nil {
		return nil, err
	}
	e := &engine{cfg: cfg, hw: cfg.Hardware, pol: pol, static: def.static, total: span.count}
	if sw, ok := pol.(swapper); ok && cfg.SwapSpaceGiB > 0 {
		e.swapper = sw
	}
	e.m.init(span)
	start := time.Now()
	e.arr.open(src)
	defer e.arr.close()
	if err := e.run(); err != nil {
		return nil, err
	}
	return e.m.result(e, start), nil
}

// engine is one run's scheduler: it takes requests as they arrive, schedules an
// iteration at a time, and hands memory questions to the policy and the outcome to
// the metrics.
type engine struct {
	cfg     Config // defaults applied, validated
	hw      hardware.Deployment
	pol     policy
	swapper swapper // the policy's swapping; nil without a host tier
	static  bool    // static batching: admit only when nothing runs
	total   int     // requests in the source

	now  float64 // simulated seconds; never decreases
	iter int     // iterations run

	arr   arrivals // the source, read as requests arrive
	slots slots

	// Every accepted request that has not finished or been rejected is in exactly
	// one of waiting, running and swapped (checkInvariants).
	waiting []*reqState // front = next to admit; arrivals the source still holds queue behind it
	running []*reqState // admission order; the back is preempted first; len ≤ cfg.MaxSeqs
	swapped []*reqState // swapped out, in preemption order; swapped in first; empty without a swapper
	batch   batch       // this iteration's work, reused
	moved   int         // blocks copied to or from the host this iteration
	dt      float64     // the scheduled iteration's duration (begin to end)

	// onDone, if set (cluster mode), is called when a request finishes (true) or is
	// rejected (false), after the engine has recorded it.
	onDone func(r *reqState, finished bool)

	m metrics
}

// run loops until the source is exhausted and nothing is in flight.
func (e *engine) run() error {
	lastReport := -1
	for {
		idle := len(e.running) == 0 && len(e.swapped) == 0 && !e.haveWaiting()
		if e.arr.err != nil {
			return e.arr.err
		}
		if idle {
			if !e.arr.has {
				if n := e.m.completed + e.m.rejected; n != e.total {
					return fmt.Errorf("%w: the source yielded %d requests, then %d when ranged again (a Source must "+
						"yield the same requests every time; collect a one-shot source with workload.Collect)", ErrInvalid, e.total, n)
				}
				if e.cfg.checkEvery > 0 {
					return e.checkInvariants() // nothing in flight: nothing held
				}
				return nil
			}
			e.now = e.arr.head.Arrival // nothing to do until the next arrival
			continue
		}
		if e.cfg.Progress != nil {
			if done := e.m.completed + e.m.rejected; done*100/e.total != lastReport {
				lastReport = done * 100 / e.total
				e.cfg.Progress(float64(done) / float64(e.total))
			}
		}
		e.step()
		if e.cfg.checkEvery > 0 && e.iter%e.cfg.checkEvery == 0 {
			if err := e.checkInvariants(); err != nil {
				panic(err)
			}
		}
	}
}
