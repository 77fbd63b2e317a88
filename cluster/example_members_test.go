package cluster_test

import (
	"context"
	"fmt"

	"github.com/pagedkv/pagedkv/cluster"
)

// Scale-up and scale-down: an engine joins and takes the next requests (it has no
// load), another leaves while it still serves a request, which finishes as usual.
// With the precise policy the control plane would also call Index.DropEngine for
// the engine that left.
func ExampleRouter_AddEngine() {
	ctx := context.Background()
	r, _ := cluster.NewRouter(cluster.RouterConfig{
		Engines: []cluster.EngineID{"a", "b"},
		Policy:  cluster.PolicyLoad,
		Hash:    cluster.HashConfig{BlockSize: 4},
	})
	prompt := []int32{1, 2, 3, 4, 5, 6, 7, 8}
	d1, _ := r.Route(ctx, prompt, cluster.RouteOptions{})
	d2, _ := r.Route(ctx, prompt, cluster.RouteOptions{})
	fmt.Println("routed to", d1.Engine, d2.Engine)

	// Scale up: "c" joins, at the end of the routing order, with no load.
	_ = r.AddEngine("c")
	d3, _ := r.Route(ctx, prompt, cluster.RouteOptions{})
	fmt.Println("engines", r.Engines(), "next ->", d3.Engine, "at index", d3.EngineIndex)

	// Scale down: "a" leaves with a request outstanding; the others move up.
	_ = r.RemoveEngine(d1.Engine)
	fmt.Println("engines", r.Engines())
	err := r.Finish(d1.Ticket, cluster.FinishOptions{})
	fmt.Println("finish the request on", d1.Engine, "after it left:", err)
	for _, e := range r.Engines() {
		n, _, _ := r.LoadOf(e)
		fmt.Println(e, "outstanding", n)
	}
	fmt.Println("remove the last one left:", r.RemoveEngine("b") == nil, r.RemoveEngine("c") != nil)
	_ = r.Finish(d2.Ticket, cluster.FinishOptions{})
	_ = r.Finish(d3.Ticket, cluster.FinishOptions{})
	// Output:
	// routed to a b
	// engines [a b c] next -> c at index 2
	// engines [b c]
	// finish the request on a after it left: <nil>
	// b outstanding 1
	// c outstanding 1
	// remove the last one left: true true
}
