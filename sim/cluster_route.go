package sim

import (
	"container/heap"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/pagedkv/pagedkv/workload"
)

// The fleet's arrivals: when the next one is due (DrainWindows), routing it, and
// its way to its engine (a global cache's transfer).

// nextArrival returns the time of the next arrival to route (+Inf for none yet),
// twice (the loop's candidate event time and the arrival's). With DrainWindows, a
// request of a later window waits until every request taken so far has finished,
// and its window's arrivals are shifted to start no earlier than that.
func (f *fleet) nextArrival() (float64, float64) {
	if !f.arr.has {
		return math.Inf(1), math.Inf(1)
	}
	if f.cfg.DrainWindows {
		if w := f.window(f.arr.head.Arrival); w > f.win {
			if f.done < f.taken {
				return math.Inf(1), math.Inf(1)
			}
			f.shift = max(f.shift, f.lastDone-f.cfg.Windows[w])
			f.win = w
		}
	}
	a := f.arr.head.Arrival + f.shift
	return a, a
}

// window returns the reporting window of an (unshifted) arrival time: -1 before
// the first window or without windows.
func (f *fleet) window(arrival float64) int {
	i, found := slices.BinarySearch(f.cfg.Windows, arrival)
	if !found {
		i--
	}
	return i
}

// route sends an arrived request to the router's choice. With a global cache it
// also finds the longest prefix any engine holds: the part the chosen engine lacks
// is loaded over the network, and the request reaches the engine when it has
// arrived.
func (f *fleet) route(req workload.Request, window int, t float64) error {
	if len(req.Prompt) >= f.maxLen { // no engine can hold it
		f.rejected++
		f.tooLong++
		f.done++
		f.lastDone = t
		return nil
	}
	if f.cfg.PrefillOnly {
		req.OutputLen = 1
	}
	f.sync()
	t0 := time.Now()
	d, err := f.router.Route(f.ctx, req.Prompt, cluster.RouteOptions{})
	if err != nil {
		return fmt.Errorf("%w: routing request %d: %w", ErrInvalid, req.ID, err)
	}
	local, remote := 0, 0
	var src cluster.EngineID // the engine the prefix is loaded from (the first holding the most)
	if f.scorer != nil {
		if f.scores, err = f.scorer.Score(f.ctx, req.Prompt, prefix.Extras{}, f.scores[:0]); err != nil {
			f.scoreErrors++ // the index is unreachable: no remote prefix
		}
		for _, s := range f.scores {
			n := s.Blocks * f.bs
			if n > remote {
				remote, src = n, s.Engine
			}
			if s.Engine == d.Engine {
				local = n
			}
		}
	}
	f.routeWall += time.Since(t0)
	f.decisions++
	ce := f.byID[d.Engine]
	if ce == nil || ce.down { // cannot happen: the router chooses among the engines up
		panic(fmt.Sprintf("sim: cluster: request %d routed to engine %s, which is not up", req.ID, d.Engine))
	}
	if f.cfg.onRoute != nil {
		f.cfg.onRoute(ce.idx, t)
	}
	ce.routed++
	ce.addLoad(1, t)
	dl := delivery{at: t, seq: f.nextDelivery, ce: ce, req: req, ticket: d.Ticket, remote: remote, window: int32(window)}
	f.nextDelivery++
	if fetch := remote - local; fetch > 0 {
		dl.src = f.byID[src]
		dt := float64(fetch) * f.bytesPerTok / f.netBytes
		dl.at += dt
		f.transfers++
		f.transferS += dt
		heap.Push(&f.pending, dl)
		return nil
	}
	f.deliver(dl)
	return nil
}

// deliver queues a routed request at its engine.
func (f *fleet) deliver(d delivery) {
	ce := d.ce
	r := ce.e.accept(d.req)
	if r == nil { // cannot happen: route rejects what accept would
		panic(fmt.Sprintf("sim: cluster: engine %s rejected request %d on arrival", ce.id, d.req.ID))
	}
	r.route = routeInfo{ticket: d.ticket, window: d.window}
	r.remote = d.remote
	if !ce.dirty {
		ce.dirty = true
		f.dirty = append(f.dirty, ce)
	}
}

// delivery is a routed request on its way to its engine (global cache: while its
// prefix is transferred).
type delivery struct {
	at     float64
	seq    int // routing order: ties in at keep it
	ce     *clusterEngine
	req    workload.Request
	ticket cluster.Ticket
	remote int
	window int32
	src    *clusterEngine // the engine the prefix comes from (global cache)
}

type deliveries []delivery

func (h deliveries) Len() int { return len(h) }
func (h deliveries) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].seq < h[j].seq
}
func (h deliveries) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deliveries) Push(x any)   { *h = append(*h, x.(delivery)) }
func (h *deliveries) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = delivery{}
	*h = old[:len(old)-1]
	return d
}
