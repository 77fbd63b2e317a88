package sim

import "slices"

// Policy names accepted by Config.Policy.
const (
	PolicyPaged      = "paged"
	PolicyOrcaMax    = "orca-max"
	PolicyOrcaPow2   = "orca-pow2"
	PolicyOrcaOracle = "orca-oracle"
	PolicyStatic     = "static"
)

// policyDef is one entry of the policy factory.
type policyDef struct {
	name string
	// static makes the engine batch FasterTransformer-style: admit only when idle.
	static bool
	make   func(c *Config) (policy, error)
}

// policyDefs is the factory, in PolicyNames order.
var policyDefs = []policyDef{
	{name: PolicyPaged, make: func(c *Config) (policy, error) {
		return newPagedPolicy(pagedPolicyConfig(c))
	}},
	{name: PolicyOrcaMax, make: contiguous(PolicyOrcaMax, reserveMax)},
	{name: PolicyOrcaPow2, make: contiguous(PolicyOrcaPow2, reservePow2)},
	{name: PolicyOrcaOracle, make: contiguous(PolicyOrcaOracle, reserveOracle)},
	{name: PolicyStatic, static: true, make: contiguous(PolicyStatic, reserveMax)},
}

func contiguous(label string, rule int) func(c *Config) (policy, error) {
	return func(c *Config) (policy, error) {
		return newContiguousPolicy(label, rule, c.Hardware.KVSlots(), c.Hardware.Model.MaxSeqLen), nil
	}
}

// PolicyNames returns every policy name: paged, orca-max, orca-pow2, orca-oracle,
// static.
func PolicyNames() []string {
	names := make([]string, len(policyDefs))
	for i, d := range policyDefs {
		names[i] = d.name
	}
	return names
}

func lookupPolicy(name string) (policyDef, bool) {
	i := slices.IndexFunc(policyDefs, func(d policyDef) bool { return d.name == name })
	if i < 0 {
		return policyDef{}, false
	}
	return policyDefs[i], true
}
