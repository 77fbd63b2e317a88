package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// MaxOutages bounds ClusterConfig.Outages.
const MaxOutages = 1 << 16

// Outage is one engine going down and, unless For is 0, coming back: a capacity
// planner's crash (ClusterConfig.Outages).
//
// At At the engine crashes: the router stops choosing it (cluster.Router.RemoveEngine),
// its cache is lost (its entries leave the cluster index, its paged.Manager is
// emptied), and every request it held — running, swapped out, waiting, or on its
// way to it (a global cache's transfer) — is routed again at At to the engines
// still up, as a new arrival: its prompt is recomputed (its output restarts too),
// while its arrival stays the original one, so its TTFT counts from when the
// client first sent it. The router tickets of those requests are finished, so the
// load accounting only counts requests the engines hold. The iteration the engine
// was running, if any, is lost.
//
// At At+For the engine comes back empty (cluster.Router.AddEngine; an empty cache,
// announced afresh to the index) and may be chosen again at once.
//
// Times are seconds of simulated time, the workload's arrival clock. Events at the
// same instant are applied in the order: iterations that end then commit, engines
// come back, engines go down, requests arrive. An outage that starts after the last
// request has finished is not applied.
type Outage struct {
	// Engine is the engine's index, in [0, ClusterConfig.Engines): engine "e<Engine>".
	Engine int
	// At is when the engine goes down, seconds ≥ 0.
	At float64
	// For is how long it stays down, seconds ≥ 0; 0 means it never comes back.
	For float64
}

// end returns when the engine comes back (+Inf: never).
func (o Outage) end() float64 {
	if o.For == 0 {
		return math.Inf(1)
	}
	return o.At + o.For
}

// ValidateOutages checks outages for a fleet of engines engines: each engine in
// range, At and For finite and ≥ 0 (and At+For finite), at most MaxOutages, no two
// outages of one engine overlapping (the next may start when the previous ends),
// and at least one engine up at every moment. Errors wrap ErrInvalid and name the
// outage by its position.
func ValidateOutages(engines int, outages []Outage) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: cluster: Outages: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if len(outages) > MaxOutages {
		return bad("%d outages, more than %d", len(outages), MaxOutages)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	for i, o := range outages {
		switch {
		case o.Engine < 0 || o.Engine >= engines:
			return bad("outage %d: engine %d not in [0, %d)", i, o.Engine, engines)
		case !finite(o.At) || o.At < 0:
			return bad("outage %d: At %v is not a finite time ≥ 0", i, o.At)
		case !finite(o.For) || o.For < 0 || !finite(o.At+o.For):
			return bad("outage %d: For %v is not a finite duration ≥ 0 (0: never returns)", i, o.For)
		case o.For > 0 && o.At+o.For <= o.At:
			return bad("outage %d: For %v is too short to end after At %v", i, o.For, o.At)
		}
	}
	order := make([]int, len(outages))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := outages[a], outages[b]
		if x.Engine != y.Engine {
			return x.Engine - y.Engine
		}
		return cmp.Compare(x.At, y.At)
	})
	for k := 1; k < len(order); k++ {
		p, n := outages[order[k-1]], outages[order[k]]
		if p.Engine == n.Engine && n.At < p.end() {
			return bad("outages %d and %d of engine %d overlap (the engine is down from %v to %v)",
				order[k-1], order[k], p.Engine, p.At, p.end())
		}
	}
	// Sweep: engines come back before others go down at the same instant.
	type edge struct {
		t    float64
		down int // +1 goes down, -1 comes back
		i    int
	}
	edges := make([]edge, 0, 2*len(outages))
	for i, o := range outages {
		edges = append(edges, edge{o.At, 1, i})
		if o.For > 0 {
			edges = append(edges, edge{o.end(), -1, i})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return a.down - b.down
	})
	down := 0
	for _, e := range edges {
		if down += e.down; down >= engines {
			return bad("outage %d: at %v s all %d engines would be down (at least one must be up)", e.i, e.t, engines)
		}
	}
	return nil
}
