package sim_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/sim"
	"github.com/pagedkv/pagedkv/workload"
)

// Compare the paged policy with Orca-Oracle on a small ShareGPT-like workload on the
// default hardware (OPT-13B, one A100-40GB). A zero Config field means its default.
func Example() {
	src := workload.Synthetic{Profile: workload.ShareGPT(), Rate: 2, Requests: 300, Seed: 1}.Source()
	for _, policy := range []string{sim.PolicyPaged, sim.PolicyOrcaOracle} {
		r, err := sim.Run(sim.Config{Policy: policy}, src)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %d done, more than half of KV memory holds tokens: %v\n",
			r.Policy, r.RequestsCompleted, r.TokenStatesPct > 50)
	}
	// Output:
	// paged: 300 done, more than half of KV memory holds tokens: true
	// orca-oracle: 300 done, more than half of KV memory holds tokens: false
}

// A fleet of four engines behind the precise router (the cluster index, fed by
// the engines' KV events) against random routing, on multi-turn chat whose turns
// extend the earlier ones: routing each turn to the engine that holds its history
// hits the prefix cache more often. A zero ClusterConfig field means its default.
func ExampleRunCluster() {
	src := workload.Synthetic{Profile: workload.ShareGPT(), Rate: 4, Requests: 400, Seed: 1, Turns: 4, ThinkTime: 5}.Source()
	engine := sim.Config{Hardware: hardware.Deployment{Model: mustModel("llama-2-7b"), GPU: mustGPU("a100-80")}}
	hit := map[string]float64{}
	for _, router := range []string{"precise", "random"} {
		r, err := sim.RunCluster(sim.ClusterConfig{Engine: engine, Engines: 4, Router: router}, src)
		if err != nil {
			fmt.Println(err)
			return
		}
		hit[router] = r.HitRatePct
		fmt.Printf("%s: %d done on %d engines\n", r.Router, r.RequestsCompleted, len(r.PerEngine))
	}
	fmt.Println("precise routing hits more:", hit["precise"] > hit["random"]+10)
	// Output:
	// precise: 400 done on 4 engines
	// random: 400 done on 4 engines
	// precise routing hits more: true
}

func mustModel(name string) hardware.Model {
	m, err := hardware.LookupModel(name)
	if err != nil {
		panic(err)
	}
	return m
}

func mustGPU(name string) hardware.GPU {
	g, err := hardware.LookupGPU(name)
	if err != nil {
		panic(err)
	}
	return g
}
