package sim

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/workload"
)

// Outages in the fleet's event loop (see Outage for the semantics): an engine
// crashes (crash) and comes back (restore) at its membership events' times.

// memberEvent is one engine going down (up false) or coming back (up true).
type memberEvent struct {
	at float64
	ce *clusterEngine
	up bool
}

// newMemberEvents returns the outages' events in the order they apply: by time,
// engines coming back before others go down at the same instant, then by engine.
func newMemberEvents(f *fleet, outages []Outage) []memberEvent {
	var evs []memberEvent
	for _, o := range outages {
		ce := f.engines[o.Engine]
		evs = append(evs, memberEvent{at: o.At, ce: ce})
		if o.For > 0 {
			evs = append(evs, memberEvent{at: o.end(), ce: ce, up: true})
		}
	}
	slices.SortStableFunc(evs, func(a, b memberEvent) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		if a.up != b.up {
			if a.up {
				return -1
			}
			return 1
		}
		return a.ce.idx - b.ce.idx
	})
	return evs
}

// nextMemberAt returns the time of the next membership event (+Inf: none).
func (f *fleet) nextMemberAt() float64 {
	if f.nextMember == len(f.members) {
		return math.Inf(1)
	}
	return f.members[f.nextMember].at
}

// applyMembers applies the membership events due by t.
func (f *fleet) applyMembers(t float64) {
	for f.nextMember < len(f.members) && f.members[f.nextMember].at <= t {
		ev := f.members[f.nextMember]
		f.nextMember++
		if ev.up {
			f.restore(ev.ce, t)
		} else {
			f.crash(ev.ce, t)
		}
	}
}

// rerouteReq is a request taken from a crashed engine, to be routed again.
type rerouteReq struct {
	req    workload.Request
	window int32
}

// crash takes engine ce down at t: its running iteration is lost, the requests it
// holds (and those on their way to it) leave it — their tickets finished, their
// memory released — its cache is emptied and dropped from the index, the router
// stops choosing it, and the requests are routed again among the engines up, in
// order of arrival.
func (f *fleet) crash(ce *clusterEngine, t float64) {
	e := ce.e
	if ce.busy { // the iteration in flight is lost
		for _, r := range e.batch.scheduled {
			r.stepKind, r.stepTokens = stepNone, 0
		}
		ce.busy = false
	}
	e.batch.reset(0)
	e.now = max(e.now, t)
	var victims []rerouteReq
	take := func(ticket cluster.Ticket, req workload.Request, window int32) {
		if err := f.router.Finish(ticket, cluster.FinishOptions{}); err != nil {
			panic(fmt.Sprintf("sim: cluster: request %d: %v", req.ID, err))
		}
		ce.addLoad(-1, t)
		ce.rerouted++
		victims = append(victims, rerouteReq{req: req, window: window})
	}
	for _, q := range [][]*reqState{e.running, e.swapped, e.waiting} {
		for _, r := range q {
			e.pol.release(r)
			e.slots.put(r.slot)
			take(r.route.ticket, r.Request, r.route.window)
		}
	}
	clear(e.running)
	clear(e.swapped)
	clear(e.waiting)
	e.running, e.swapped, e.waiting = e.running[:0], e.swapped[:0], e.waiting[:0]
	kept := f.pending[:0]
	for _, d := range f.pending { // global cache: requests whose prefix is on its way to ce
		if d.ce == ce {
			take(d.ticket, d.req, d.window)
			continue
		}
		if d.src == ce { // or from ce: the transfer fails, the request arrives now and computes what its engine lacks
			d.at, d.remote, d.src = t, 0, nil
			f.failedTransfers++
		}
		kept = append(kept, d)
	}
	clear(f.pending[len(kept):])
	f.pending = kept
	heap.Init(&f.pending)

	if err := f.router.RemoveEngine(ce.id); err != nil { // cannot happen: ValidateOutages keeps one up
		panic(fmt.Sprintf("sim: cluster: engine %s down: %v", ce.id, err))
	}
	if err := ce.pol.m.ResetPrefixCache(); err != nil { // cannot happen: every request was released
		panic(fmt.Sprintf("sim: cluster: engine %s down: %v", ce.id, err))
	}
	ce.down, ce.downAt = true, t
	if f.feed != nil { // the index forgets the engine; it is announced afresh when it returns
		_, _ = ce.pol.m.TakeEvents(nil)
		ce.src, ce.events = nil, false
		if err := f.feed.Drop(ce.id); err != nil {
			f.feedErrors++
			f.lastFeedErr = err
		}
		f.flushFeed()
	}
	slices.SortFunc(victims, func(a, b rerouteReq) int {
		if c := cmp.Compare(a.req.Arrival, b.req.Arrival); c != 0 {
			return c
		}
		return cmp.Compare(a.req.ID, b.req.ID)
	})
	for _, v := range victims {
		f.rerouted++
		if err := f.route(v.req, int(v.window), t); err != nil {
			panic(fmt.Sprintf("sim: cluster: re-routing request %d: %v", v.req.ID, err)) // routing is in-process
		}
	}
}

// restore brings engine ce back at t, empty: the router may choose it again, and
// its (empty) cache is announced to the index at the next sync.
func (f *fleet) restore(ce *clusterEngine, t float64) {
	if err := f.router.AddEngine(ce.id); err != nil {
		panic(fmt.Sprintf("sim: cluster: engine %s back: %v", ce.id, err))
	}
	ce.down = false
	ce.downS += t - ce.downAt
	ce.e.now = max(ce.e.now, t)
	ce.advance(t)
	if f.feed != nil {
		src, err := cluster.NewManagerSource(ce.id, ce.pol.m)
		if err != nil {
			panic(fmt.Sprintf("sim: cluster: engine %s back: %v", ce.id, err))
		}
		ce.src, ce.events = src, true
	}
}

// flushFeed applies what the feed holds to the index now.
func (f *fleet) flushFeed() {
	if err := f.feed.Flush(f.ctx); err != nil {
		f.feedErrors++
		f.feedFailing, f.lastFeedErr = true, err
		return
	}
	f.feedFailing = false
}

// checkMembers verifies the engines against their outages (checkInvariants): the
// router's engines are those up; an engine down holds nothing, runs nothing and
// caches nothing.
func (f *fleet) checkMembers() error {
	present := f.router.Engines()
	for _, ce := range f.engines {
		if in := slices.Contains(present, ce.id); in == ce.down {
			return fmt.Errorf("sim: cluster: engine %s down %v, in the router %v", ce.id, ce.down, in)
		}
		if !ce.down {
			continue
		}
		if ce.busy || ce.hasWork() || ce.outstanding != 0 {
			return fmt.Errorf("sim: cluster: engine %s is down but busy %v, holds work %v, outstanding %d",
				ce.id, ce.busy, ce.hasWork(), ce.outstanding)
		}
		if n := len(ce.pol.m.CachedBlocks(nil)); n != 0 {
			return fmt.Errorf("sim: cluster: engine %s is down but caches %d blocks", ce.id, n)
		}
	}
	return nil
}
