package sim

import (
	"github.com/pagedkv/pagedkv/cluster"
)

// clusterEngine is one engine of a fleet run: the single-engine simulator's engine
// (its scheduler, policy and metrics, unchanged), stepped by the fleet's event loop
// one iteration at a time, and its load as the fleet sees it.
type clusterEngine struct {
	idx int
	id  cluster.EngineID
	e   *engine
	pol *pagedPolicy

	// busy: an iteration began at e.now and ends at end (its commit is pending).
	busy bool
	end  float64
	// dirty: the engine may have work to begin at the current event time.
	dirty bool
	// events: its manager may hold events the index has not seen; src hands them to
	// the fleet's feed (nil without an index).
	events bool
	src    *cluster.ManagerSource

	// Outstanding requests (routed here, not finished or rejected; in transfer
	// included), integrated over time: area = ∫ outstanding dt from the first
	// arrival up to last.
	outstanding, peak int
	area, last        float64
	routed            int
	// Outages (cluster_outage.go): down while crashed (not in the router, holding
	// nothing, its cache empty); downAt is when it went down, downS the time spent
	// down before that, rerouted the requests taken from it at crashes.
	down          bool
	downAt, downS float64
	rerouted      int
	series        []Point // outstanding, at most one point per simulated second
}

// routeInfo is the fleet's bookkeeping of one request (reqState.route).
type routeInfo struct {
	ticket cluster.Ticket
	window int32 // the reporting window of its (unshifted) arrival; -1: before the first
}

// hasWork reports whether any request waits, runs or is swapped out.
func (ce *clusterEngine) hasWork() bool {
	e := ce.e
	return len(e.running) > 0 || len(e.swapped) > 0 || len(e.waiting) > 0
}

// addLoad changes the outstanding count by d at time t.
func (ce *clusterEngine) addLoad(d int, t float64) {
	ce.advance(t)
	ce.outstanding += d
	ce.peak = max(ce.peak, ce.outstanding)
	if n := len(ce.series); n == 0 || t-ce.series[n-1].T >= 1 {
		ce.series = append(ce.series, Point{T: t, V: float64(ce.outstanding)})
	}
}

// advance integrates the outstanding count up to t.
func (ce *clusterEngine) advance(t float64) {
	if t > ce.last {
		ce.area += float64(ce.outstanding) * (t - ce.last)
		ce.last = t
	}
}

// start begins iterations at time t until one is running or nothing is left to do
// (an iteration that schedules nothing may unblock the engine: a rejection, a
// swapped request recomputed).
func (ce *clusterEngine) start(t float64) {
	ce.dirty = false
	if ce.busy {
		return
	}
	e := ce.e
	e.now = max(e.now, t)
	for !ce.busy && ce.hasWork() {
		if e.begin() {
			ce.busy, ce.end = true, e.now+e.dt
		}
		ce.events = true
	}
}

// commit ends the running iteration.
func (ce *clusterEngine) commit() {
	ce.e.end()
	ce.busy, ce.dirty, ce.events = false, true, true
}
