package sim_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/sim"
)

// Compare the paged policy with Orca-Oracle on a small ShareGPT-like workload on the
// default hardware (OPT-13B, one A100-40GB).
func Example() {
	reqs, _ := sim.Synthetic{Profile: sim.Profiles["sharegpt"], Rate: 2, Requests: 300, Seed: 1}.Generate()
	for _, policy := range []string{sim.PolicyPaged, sim.PolicyOrcaOracle} {
		cfg := sim.DefaultConfig()
		cfg.Policy = policy
		r, err := sim.Run(cfg, reqs)
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
