package sim_test

import (
	"fmt"

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
