package sim

import (
	"fmt"
	"math"

	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/paged"
)

// Cache modes of ClusterConfig.CacheMode.
const (
	// CacheLocal: each engine hits only its own prefix cache.
	CacheLocal = "local"
	// CacheGlobal: one pool made of every engine's cache, like Mooncake Store: an
	// engine loads a prefix another engine holds over the network instead of
	// computing it (see the package doc, "Cluster mode").
	CacheGlobal = "global"
)

// Limits on a ClusterConfig, so that no setting makes the simulator allocate
// without bound.
const (
	// MaxEngines bounds ClusterConfig.Engines.
	MaxEngines = 1024
	// MaxClusterBlocks bounds the device KV blocks of all engines together (each
	// costs the paged manager and the simulator about 200 bytes at block size 16).
	MaxClusterBlocks = 1 << 24
	// MaxNetGbps bounds ClusterConfig.NetGbps.
	MaxNetGbps = 1e6
)

// ClusterConfig configures a fleet run (RunCluster): Engines engines, each a paged
// engine configured by Engine, behind one router. The zero value of every field
// means its documented default, so ClusterConfig{Engines: 4} runs four engines of
// the vLLM paper's setting behind the precise router.
type ClusterConfig struct {
	// Engine configures every engine (its Progress is ignored). Its Policy must be
	// the paged one (the default). Zero fields mean Config's defaults.
	Engine Config
	// Engines is the number of engines, in [1, MaxEngines]. Default 1.
	Engines int
	// Router is the routing policy, one of cluster.Policies(): precise (the cluster
	// index, fed by the engines' KV events), approximate (a paged.Manager replica
	// per engine replaying the router's own decisions), load, random, round-robin.
	// Default precise.
	Router string
	// Selector is how the precise, approximate and load routers weigh a cached
	// prefix against load: SelectorCost (the default; the cluster package's
	// Dynamo-style cost) or SelectorLLMD (llm-d's weighted scorers). Random and
	// round-robin ignore it.
	Selector string
	// CacheMode is CacheLocal (the default) or CacheGlobal.
	CacheMode string
	// CacheTokens is each engine's prefix-cache capacity in tokens, device and host
	// tiers together. Up to the deployment's KV capacity it sizes the device pool
	// (which is then smaller than the GPU memory allows); beyond it the device pool
	// is the deployment's and the rest is a host prefix-cache tier (paged's host
	// cache, write-back unless Engine.HostCachePolicy says otherwise: evicted device
	// blocks are copied to host memory, and a prefix hit there is copied back, each
	// copy charged to the engine's iteration as swaps are:
	// hardware.Deployment.HostCopyTime). Engine.HostCacheGiB must be 0 here. The tiers are inclusive (an
	// onloaded block keeps its host copy), so the distinct blocks cached are
	// between the larger tier and the sum. Default 0: the deployment's KV capacity,
	// no host tier.
	CacheTokens int
	// ReplicaTokens is how many tokens the approximate router believes each engine
	// caches: the size of its per-engine paged.Manager replica. Default 0: the
	// engines' real cache (CacheTokens, or the deployment's KV capacity).
	ReplicaTokens int
	// NetGbps is each engine's network bandwidth for loading prefixes from other
	// engines (global cache), Gbit/s, in (0, MaxNetGbps]. Default 200 (one
	// 200 Gbit/s RDMA NIC).
	NetGbps float64
	// PrefillOnly makes the engines a disaggregated prefill pool (Mooncake's prefill
	// instances): each request ends with its first token, its KV handed to decoding
	// elsewhere. Default off: engines decode too.
	PrefillOnly bool
	// Index is the cluster index for the precise router and the global cache, e.g. a
	// cluster.RedisIndex to run on the distributed store; it stays the caller's (not
	// closed), and the run restarts its engines there first (entries an earlier run
	// left are discarded). Default: a fresh
	// cluster.MemoryIndex sized to hold every engine's blocks.
	Index cluster.Index
	// Windows, if set, are ascending arrival times that cut the run into reporting
	// windows (e.g. the stages of a load ladder): ClusterResult.Windows reports the
	// requests that arrived in each [Windows[i], Windows[i+1]) and after the last.
	Windows []float64
	// DrainWindows closes the loop between windows as a benchmark's load ladder
	// does (inference-perf starts a stage once every request of the previous one
	// has finished): the requests of a window reach the router only after every
	// earlier request has finished, their arrival times shifted by the wait (their
	// spacing kept; TTFT counts from the shifted arrival). Needs Windows. Default
	// off: arrivals are the source's.
	DrainWindows bool
	// Outages are engines going down and coming back (see Outage): each crash
	// re-routes the engine's requests to the engines still up
	// (ClusterResult.Rerouted). Checked by ValidateOutages. Default none.
	Outages []Outage
	// Progress, if set, is called now and then with the fraction of requests done.
	Progress func(done float64)

	// onRoute, if set (tests), is called at every routing decision with the chosen
	// engine's index and the time.
	onRoute func(engine int, t float64)
	// eventQueue, when positive, bounds each manager's event queue (tests: force
	// overflows).
	eventQueue int
}

// withDefaults returns c with every zero field set to its default (the engine's
// Config included).
func (c ClusterConfig) withDefaults() ClusterConfig {
	c.Engine = c.Engine.withDefaults()
	c.Engine.Progress = nil
	if c.Engines == 0 {
		c.Engines = 1
	}
	if c.Router == "" {
		c.Router = string(cluster.PolicyPrecise)
	}
	if c.Selector == "" {
		c.Selector = SelectorCost
	}
	if c.CacheMode == "" {
		c.CacheMode = CacheLocal
	}
	if c.NetGbps == 0 {
		c.NetGbps = 200
	}
	return c
}

// validate checks a ClusterConfig with its defaults applied; errors wrap
// ErrInvalid and name the field.
func (c *ClusterConfig) validate() error {
	if err := c.Engine.validate(); err != nil {
		return err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: cluster: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if c.Engine.Policy != PolicyPaged {
		return bad("engines must use the %s policy, not %q", PolicyPaged, c.Engine.Policy)
	}
	if _, err := cluster.ParsePolicy(c.Router); err != nil {
		return bad("unknown Router %q (want one of %v)", c.Router, cluster.Policies())
	}
	switch {
	case c.Selector != SelectorCost && c.Selector != SelectorLLMD:
		return bad("unknown Selector %q (want one of %v)", c.Selector, SelectorNames())
	case c.Engines < 1 || c.Engines > MaxEngines:
		return bad("Engines %d not in [1, %d]", c.Engines, MaxEngines)
	case c.CacheMode != CacheLocal && c.CacheMode != CacheGlobal:
		return bad("CacheMode %q (want %s or %s)", c.CacheMode, CacheLocal, CacheGlobal)
	case c.CacheTokens < 0 || c.CacheTokens > paged.MaxNumBlocks*c.Engine.BlockSize:
		return bad("CacheTokens %d not in [0, %d]", c.CacheTokens, paged.MaxNumBlocks*c.Engine.BlockSize)
	case c.ReplicaTokens < 0 || c.ReplicaTokens > paged.MaxNumBlocks*c.Engine.BlockSize ||
		c.ReplicaTokens > 0 && c.ReplicaTokens < c.Engine.BlockSize:
		return bad("ReplicaTokens %d not 0 or in [%d, %d]", c.ReplicaTokens, c.Engine.BlockSize, paged.MaxNumBlocks*c.Engine.BlockSize)
	case c.CacheTokens > 0 && c.CacheTokens < c.Engine.BlockSize:
		return bad("CacheTokens %d is less than one block of %d tokens", c.CacheTokens, c.Engine.BlockSize)
	case !(c.NetGbps > 0 && c.NetGbps <= MaxNetGbps):
		return bad("NetGbps %v not in (0, %g]", c.NetGbps, float64(MaxNetGbps))
	}
	switch e := &c.Engine; {
	case e.HostCacheGiB > 0:
		return bad("Engine.HostCacheGiB %v: size the engines' host tier with CacheTokens (device and host tiers together)", e.HostCacheGiB)
	case e.hostCacheTierOption() != "" && c.hostCacheBlocks() == 0:
		return bad("Engine.%s without a host tier (CacheTokens beyond what the GPUs hold)", e.hostCacheTierOption())
	}
	if c.DrainWindows && len(c.Windows) == 0 {
		return bad("DrainWindows needs Windows")
	}
	for i, w := range c.Windows {
		if math.IsNaN(w) || math.IsInf(w, 0) || i > 0 && w <= c.Windows[i-1] {
			return bad("Windows %v are not finite and strictly ascending", c.Windows)
		}
	}
	if err := ValidateOutages(c.Engines, c.Outages); err != nil {
		return err
	}
	if blocks := c.engineBlocks() + c.hostCacheBlocks(); blocks > MaxClusterBlocks/c.Engines {
		return bad("%d engines of %d blocks each exceed MaxClusterBlocks (%d)", c.Engines, blocks, MaxClusterBlocks)
	}
	if m := c.Engine.Hardware.Model; c.hostCacheBlocks() > 0 && m.HasLocalAttention() && !c.Engine.DisableWindowFreeing {
		return bad("CacheTokens %d is more than the GPUs hold, and the rest would be a host tier, which paged does not "+
			"combine with KV-cache groups (%s has sliding-window or chunked-local layers): set Engine.DisableWindowFreeing", c.CacheTokens, m.Name)
	}
	if c.Router == string(cluster.PolicyApproximate) && c.replicaBlocks() > MaxClusterBlocks/c.Engines {
		return bad("%d replicas of %d blocks each exceed MaxClusterBlocks (%d)", c.Engines, c.replicaBlocks(), MaxClusterBlocks)
	}
	return nil
}

// engineBlocks is each engine's device KV blocks.
func (c *ClusterConfig) engineBlocks() int {
	if c.CacheTokens > 0 {
		return min(c.CacheTokens/c.Engine.BlockSize, c.Engine.kvBlocks())
	}
	return c.Engine.kvBlocks()
}

// hostCacheBlocks is each engine's host prefix-cache tier, in blocks.
func (c *ClusterConfig) hostCacheBlocks() int {
	return max(0, c.CacheTokens/c.Engine.BlockSize-c.Engine.kvBlocks())
}

// replicaBlocks is the approximate router's replica of each engine, in blocks
// (one tier: the engine's whole cache).
func (c *ClusterConfig) replicaBlocks() int {
	if c.ReplicaTokens > 0 {
		return c.ReplicaTokens / c.Engine.BlockSize
	}
	return c.engineBlocks() + c.hostCacheBlocks()
}

// usesIndex reports whether the run keeps a cluster index (precise routing or a
// global cache).
func (c *ClusterConfig) usesIndex() bool {
	return c.Router == string(cluster.PolicyPrecise) || c.CacheMode == CacheGlobal
}
