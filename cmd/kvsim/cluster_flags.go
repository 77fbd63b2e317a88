package main

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/sim"
	"github.com/pagedkv/pagedkv/workload"
)

// Workload names beside the length profiles: inference-perf's shared-prefix
// workload, and llm-d's 37-capacity benchmark (the same, with its parameters).
const (
	workloadSharedPrefix = "shared-prefix"
	workloadLLMD37       = "llmd-37"
)

// clusterOptions are the fleet flags (cluster mode) and the shared-prefix
// workload's.
type clusterOptions struct {
	engines                      int
	routers                      []string
	selector, cacheMode          string
	cacheTokens, replicaTokens   int
	netGbps                      float64
	prefillOnly, perEngine       bool
	index, redisAddr             string
	groups, promptsPerGroup      int
	questionLen, outputLen       int
	stages                       []workload.Stage
	drain                        bool
	on                           bool // cluster mode: -engines > 1, or a fleet flag set
	sharedPrefix                 workload.SharedPrefix
	stagesSet, sharedPrefixFlags bool
	outageSpec                   string       // -outage, parsed by resolveCluster into outages
	outages                      []sim.Outage // engines going down and coming back (cluster_outage.go)
}

// fleetFlags are the flags that turn cluster mode on even with one engine.
var fleetFlags = []string{"engines", "router", "selector", "cache", "cache-tokens", "replica-tokens", "net-gbps",
	"prefill-only", "index", "redis-addr", "per-engine", "outage"}

// addClusterFlags defines the fleet and shared-prefix flags on fs; the string
// lists are parsed by resolveCluster.
func addClusterFlags(fs *flag.FlagSet, c *clusterOptions) (routers, stages *string) {
	fs.IntVar(&c.engines, "engines", 1, fmt.Sprintf("engines behind a router, at most %d (more than 1, or any fleet flag: cluster mode)", sim.MaxEngines))
	routers = fs.String("router", string(cluster.PolicyPrecise), "comma-separated routers (cluster mode): "+joinPolicies())
	fs.StringVar(&c.selector, "selector", sim.SelectorCost, "how precise, approximate and load routing weigh prefix against load: "+
		strings.Join(sim.SelectorNames(), ", ")+" (llm-d's scorer weights)")
	fs.StringVar(&c.cacheMode, "cache", sim.CacheLocal, "prefix cache: local (each engine its own) or global (a pool of all, Mooncake-Store-like: prefixes load over the network)")
	fs.IntVar(&c.cacheTokens, "cache-tokens", 0, "each engine's prefix-cache capacity in tokens, GPU and host tiers together: up to what the GPUs hold it sizes the device pool, the rest is a host tier (0: the GPUs' KV capacity, no host tier)")
	fs.IntVar(&c.replicaTokens, "replica-tokens", 0, "the approximate router's estimate of each engine's cache, tokens (0: the real size)")
	fs.Float64Var(&c.netGbps, "net-gbps", 200, "network bandwidth per engine for global-cache loads, Gbit/s")
	fs.BoolVar(&c.prefillOnly, "prefill-only", false, "engines are a disaggregated prefill pool: requests end at their first token")
	fs.StringVar(&c.index, "index", "memory", "cluster index: memory, or redis (-redis-addr)")
	fs.StringVar(&c.redisAddr, "redis-addr", "127.0.0.1:6379", "Redis address for -index redis")
	fs.BoolVar(&c.perEngine, "per-engine", false, "print a table per engine (cluster mode)")
	fs.StringVar(&c.outageSpec, "outage", "", "engine outages ENGINE@AT[+FOR],... (cluster mode): engine ENGINE (0-based, or eN) crashes at AT s "+
		"of simulated time, its cache lost and its requests re-routed, and comes back empty FOR s later (no +FOR: never)")
	d := workload.LLMD37Capacity()
	fs.IntVar(&c.groups, "groups", d.Groups, "shared-prefix workload: groups sharing a system prompt (-system-prompt tokens)")
	fs.IntVar(&c.promptsPerGroup, "prompts-per-group", d.PromptsPerGroup, "shared-prefix workload: questions per group")
	fs.IntVar(&c.questionLen, "question-len", d.QuestionLen, "shared-prefix workload: tokens per question")
	fs.IntVar(&c.outputLen, "output-len", d.OutputLen, "shared-prefix workload: output tokens per request")
	stages = fs.String("stages", "", "shared-prefix workload: load ladder rate:seconds,... (default: llm-d 37-capacity's; else -rate for -duration)")
	fs.BoolVar(&c.drain, "drain-stages", true, "shared-prefix workload: start each stage when the previous one has finished (inference-perf)")
	return routers, stages
}

func joinPolicies() string {
	var s []string
	for _, p := range cluster.Policies() {
		s = append(s, string(p))
	}
	return strings.Join(s, ", ")
}

// resolveCluster checks the fleet flags (cluster mode) and builds the
// shared-prefix workload.
func (o *options) resolveCluster(fs *flag.FlagSet, routers, stages string) error {
	c := &o.cl
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.on = c.engines > 1 || slices.ContainsFunc(fleetFlags, func(n string) bool { return set[n] })
	c.stagesSet = set["stages"]
	c.sharedPrefixFlags = set["groups"] || set["prompts-per-group"] || set["question-len"] || set["output-len"] || c.stagesSet
	if err := checkInt("-engines", c.engines, 1, sim.MaxEngines); err != nil {
		return err
	}
	for _, r := range strings.Split(routers, ",") {
		r = strings.TrimSpace(r)
		if _, err := cluster.ParsePolicy(r); err != nil {
			return usagef("unknown router %q in -router (want %s)", r, joinPolicies())
		}
		c.routers = append(c.routers, r)
	}
	switch {
	case !slices.Contains(sim.SelectorNames(), c.selector):
		return usagef("unknown -selector %q (want %s)", c.selector, strings.Join(sim.SelectorNames(), ", "))
	case c.cacheMode != sim.CacheLocal && c.cacheMode != sim.CacheGlobal:
		return usagef("-cache %q: want %s or %s", c.cacheMode, sim.CacheLocal, sim.CacheGlobal)
	case c.index != "memory" && c.index != "redis":
		return usagef("-index %q: want memory or redis", c.index)
	case !(c.netGbps > 0 && c.netGbps <= sim.MaxNetGbps):
		return usagef("-net-gbps %v: want a number in (0, %g]", c.netGbps, float64(sim.MaxNetGbps))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"-cache-tokens", c.cacheTokens}, {"-replica-tokens", c.replicaTokens}} {
		if err := checkInt(f.name, f.v, 0, math.MaxInt32); err != nil {
			return err
		}
	}
	bs := o.blockSizes[0]
	for _, f := range []struct {
		name string
		v    int
	}{{"-cache-tokens", c.cacheTokens}, {"-replica-tokens", c.replicaTokens}} {
		if f.v != 0 && f.v < bs {
			return usagef("%s %d: less than one block (%d tokens); 0 means the GPU's KV capacity", f.name, f.v, bs)
		}
		if f.v/bs > sim.MaxClusterBlocks/c.engines {
			return usagef("-engines %d × %s %d: more than %d blocks of %d tokens in all", c.engines, f.name, f.v,
				sim.MaxClusterBlocks, bs)
		}
	}
	if c.on {
		if len(o.policies) != 1 || o.policies[0] != sim.PolicyPaged {
			if set["policies"] {
				return usagef("-policies %s: cluster mode runs the paged policy only", strings.Join(o.policies, ","))
			}
			o.policies = []string{sim.PolicyPaged}
		}
		if len(o.blockSizes) != 1 {
			return usagef("-block-sizes: cluster mode takes one block size, not %d", len(o.blockSizes))
		}
	}
	var err error
	if c.outages, err = parseOutages(c.outageSpec, c.engines); err != nil {
		return err
	}
	if c.stages, err = parseStages(stages); err != nil {
		return err
	}
	return o.resolveSharedPrefix()
}

// parseStages parses "rate:seconds,..." (empty: none).
func parseStages(s string) ([]workload.Stage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []workload.Stage
	for _, part := range strings.Split(s, ",") {
		r, d, ok := strings.Cut(strings.TrimSpace(part), ":")
		rate, err1 := strconv.ParseFloat(r, 64)
		dur, err2 := strconv.ParseFloat(d, 64)
		if !ok || err1 != nil || err2 != nil || !(rate > 0 && rate <= 1e6) || !(dur > 0 && dur <= workload.MaxArrival) {
			return nil, usagef("-stages entry %q: want rate:seconds, both positive and finite", strings.TrimSpace(part))
		}
		out = append(out, workload.Stage{Rate: rate, Duration: dur})
	}
	return out, nil
}

// resolveSharedPrefix builds the shared-prefix workload (llmd-37 is its preset;
// shared-prefix takes -system-prompt, the group flags and -stages, or -rate for
// -duration) and checks it.
func (o *options) resolveSharedPrefix() error {
	c := &o.cl
	switch o.workload {
	case workloadLLMD37:
		if c.sharedPrefixFlags || o.systemPrompt != 0 {
			return usagef("-workload %s is llm-d's benchmark as published; use -workload %s to change it", workloadLLMD37, workloadSharedPrefix)
		}
		c.sharedPrefix = workload.LLMD37Capacity()
	case workloadSharedPrefix:
		sp := workload.SharedPrefix{Groups: c.groups, PromptsPerGroup: c.promptsPerGroup, SystemPromptLen: o.systemPrompt,
			QuestionLen: c.questionLen, OutputLen: c.outputLen, Stages: c.stages, Seed: o.seed}
		if sp.SystemPromptLen == 0 {
			sp.SystemPromptLen = workload.LLMD37Capacity().SystemPromptLen
		}
		if len(sp.Stages) == 0 {
			sp.Stages = []workload.Stage{{Rate: o.rate, Duration: o.duration}}
		}
		if sp.Groups < 1 || sp.PromptsPerGroup < 1 || sp.QuestionLen < 1 || sp.OutputLen < 1 {
			return usagef("-groups %d, -prompts-per-group %d, -question-len %d, -output-len %d: want positive integers",
				sp.Groups, sp.PromptsPerGroup, sp.QuestionLen, sp.OutputLen)
		}
		if err := sp.Validate(); err != nil {
			return usagef("-workload %s: %v", workloadSharedPrefix, strings.TrimPrefix(err.Error(), workload.ErrInvalid.Error()+": "))
		}
		c.sharedPrefix = sp
	default:
		if c.sharedPrefixFlags {
			return usagef("-groups, -prompts-per-group, -question-len, -output-len and -stages need -workload %s", workloadSharedPrefix)
		}
		return nil
	}
	if o.trace != "" {
		return usagef("-trace and -workload %s exclude each other", o.workload)
	}
	if c.sharedPrefix.Seed == 0 && o.workload == workloadLLMD37 {
		c.sharedPrefix.Seed = o.seed
	}
	return nil
}

// isSharedPrefix reports whether the workload is a shared-prefix one.
func (o *options) isSharedPrefix() bool {
	return o.workload == workloadSharedPrefix || o.workload == workloadLLMD37
}
