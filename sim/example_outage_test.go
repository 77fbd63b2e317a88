package sim_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/sim"
	"github.com/pagedkv/pagedkv/workload"
)

// Engine e1 of three crashes 20 s into the run and comes back empty 15 s later:
// the requests it held are re-routed to e0 and e2, and every request completes.
func ExampleOutage() {
	src := workload.Synthetic{Profile: workload.ShareGPT(), Rate: 4, Requests: 240, Seed: 1, Turns: 4, ThinkTime: 5}.Source()
	engine := sim.Config{Hardware: hardware.Deployment{Model: mustModel("llama-2-7b"), GPU: mustGPU("a100-80")}}
	cfg := sim.ClusterConfig{Engine: engine, Engines: 3, Outages: []sim.Outage{{Engine: 1, At: 20, For: 15}}}
	r, err := sim.RunCluster(cfg, src)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d done, some re-routed: %v, e1 down %.0f s\n", r.RequestsCompleted, r.Rerouted > 0, r.PerEngine[1].DownS)
	// Output:
	// 240 done, some re-routed: true, e1 down 15 s
}
