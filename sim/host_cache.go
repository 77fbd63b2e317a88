package sim

import (
	"fmt"
	"math"
	"slices"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/paged"
)

// The host prefix-cache tier (Config.HostCacheGiB).
//
// A paged engine may keep prefix blocks that leave the GPU in host memory and
// bring them back on a hit instead of recomputing them (vLLM's CPU offloading,
// SGLang HiCache, LMCache, TensorRT-LLM's secondary pool). The simulator drives
// paged's host cache (paged.Config.HostCache): the manager returns a copy list with
// every offload (device → host) and onload (host → device), and the engine charges
// each copy to the iteration that makes it, as it charges swaps
// (hardware.Deployment.HostCopyTime: one copy per block per layer for K and for V,
// plus the block's bytes over the host link). Onloaded prompt tokens are skipped
// like device hits: they cost the copy, not the prefill compute.
//
// Host memory. paged has one host pool. Its size is SwapSpaceGiB (per GPU, as
// vLLM's --swap-space) plus HostCacheGiB (per engine, all tensor-parallel GPUs
// together, as vLLM's --kv-offloading-size), both converted to blocks of the
// engine's block size. Swapped-out sequences own host blocks; cached copies live
// in the free ones and are evicted LRU. Swapping wins: a swap-out evicts cached
// copies to make room, but the simulator never lets swapped-out KV take more than
// SwapSpaceGiB's blocks, so the cache always keeps at least HostCacheGiB and may
// use whatever swapping leaves free (up to the sum).
//
// Offloads need not stall the engine: vLLM's OffloadingConnector (0.11+) stores
// with cudaMemcpyAsync on its own stream after the forward pass, off the
// user-visible path, and SGLang HiCache writes through on a separate stream.
// Config.AsyncOffload models that: offloads are not charged (their PCIe traffic is
// not modelled either); onloads always are, since the request's prefill waits for
// them.

// Host prefix-cache policies (Config.HostCachePolicy): when a cached device block is
// copied to the host tier.
const (
	// HostCacheWriteBack copies a block when the device evicts it (the default;
	// vLLM's CPU offloading, TensorRT-LLM, SGLang HiCache's write_back).
	HostCacheWriteBack = "write-back"
	// HostCacheWriteThrough copies every block as soon as it is computed and cached
	// (SGLang HiCache's write_through, its default); an evicted block that has no
	// host copy yet is still copied then.
	HostCacheWriteThrough = "write-through"
	// HostCacheWriteThroughSelective copies a block once prompts have hit it
	// Config.HostCacheMinHits times (SGLang HiCache's write_through_selective).
	HostCacheWriteThroughSelective = "write-through-selective"
)

// Limits and defaults of the host prefix-cache tier.
const (
	// MaxHostCacheGiB bounds Config.HostCacheGiB (host memory per engine, 64 TiB).
	MaxHostCacheGiB = 1 << 16
	// DefaultSelectiveMinHits is HostCacheMinHits' default: one hit after the block
	// was computed. HiCache counts the insertion as a hit and copies at 2 under
	// write_through_selective (at 1 under write_through); paged counts only the
	// prompts that reused the block, so HiCache's threshold t is MinHits t − 1.
	DefaultSelectiveMinHits = 1
)

// HostCachePolicyNames returns the host-cache policies: write-back, write-through,
// write-through-selective.
func HostCachePolicyNames() []string {
	return []string{HostCacheWriteBack, HostCacheWriteThrough, HostCacheWriteThroughSelective}
}

// hostCachePolicyName is the policy in effect ("" means write-back).
func (c *Config) hostCachePolicyName() string {
	if c.HostCachePolicy == "" {
		return HostCacheWriteBack
	}
	return c.HostCachePolicy
}

// hostCacheOptions translates the policy for paged (a tier of blocks > 0 assumed).
func (c *Config) hostCacheOptions() paged.HostCacheOptions {
	switch c.hostCachePolicyName() {
	case HostCacheWriteThrough:
		return paged.HostCacheOptions{Policy: paged.WriteThrough}
	case HostCacheWriteThroughSelective:
		k := c.HostCacheMinHits
		if k == 0 {
			k = DefaultSelectiveMinHits
		}
		return paged.HostCacheOptions{Policy: paged.WriteThrough, MinHits: k}
	}
	return paged.HostCacheOptions{Policy: paged.WriteBack}
}

// engineBlockBytes is one KV block's bytes on all of the engine's GPUs together.
func (c *Config) engineBlockBytes() float64 {
	return c.blockBytes() * float64(max(1, c.Hardware.TP))
}

// hostCacheGiBBlocks is HostCacheGiB in blocks (per engine).
func (c *Config) hostCacheGiBBlocks() int {
	if !(c.HostCacheGiB > 0) {
		return 0
	}
	return int(math.Min(c.HostCacheGiB*hardware.GiB/c.engineBlockBytes(), float64(paged.MaxNumBlocks+1)))
}

// hostTierBlocks is the host prefix-cache tier in blocks: the cluster's
// (hostCacheBlocks, from ClusterConfig.CacheTokens) or HostCacheGiB's.
func (c *Config) hostTierBlocks() int {
	if c.hostCacheBlocks > 0 {
		return c.hostCacheBlocks
	}
	return c.hostCacheGiBBlocks()
}

// validateHostCache checks the host-cache fields (defaults applied) that hold in
// both modes; Run and RunCluster check that a policy comes with a tier.
func (c *Config) validateHostCache() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case !(c.HostCacheGiB >= 0 && c.HostCacheGiB <= MaxHostCacheGiB):
		return bad("HostCacheGiB %v not in [0, %d]", c.HostCacheGiB, MaxHostCacheGiB)
	case c.HostCachePolicy != "" && !slices.Contains(HostCachePolicyNames(), c.HostCachePolicy):
		return bad("unknown HostCachePolicy %q (want one of %v)", c.HostCachePolicy, HostCachePolicyNames())
	case c.HostCacheMinHits < 0 || c.HostCacheMinHits > paged.MaxMinHits:
		return bad("HostCacheMinHits %d not in [0, %d]", c.HostCacheMinHits, paged.MaxMinHits)
	case c.HostCacheMinHits > 0 && c.HostCachePolicy != HostCacheWriteThroughSelective:
		return bad("HostCacheMinHits %d needs HostCachePolicy %s", c.HostCacheMinHits, HostCacheWriteThroughSelective)
	case c.Policy != PolicyPaged || c.HostCacheGiB == 0:
		return nil
	case c.hostCacheGiBBlocks() == 0:
		return bad("HostCacheGiB %v is less than one KV block (%.0f bytes on %d GPUs)", c.HostCacheGiB, c.engineBlockBytes(), max(1, c.Hardware.TP))
	case c.hostBlocks()+c.hostCacheGiBBlocks() > paged.MaxNumBlocks:
		return bad("SwapSpaceGiB %v and HostCacheGiB %v make %d host blocks of %d tokens, more than %d", c.SwapSpaceGiB, c.HostCacheGiB,
			c.hostBlocks()+c.hostCacheGiBBlocks(), c.BlockSize, paged.MaxNumBlocks)
	case c.DisablePrefixCaching:
		return bad("HostCacheGiB %v with DisablePrefixCaching: the host tier is a prefix cache", c.HostCacheGiB)
	case c.Hardware.Model.HasLocalAttention() && !c.DisableWindowFreeing:
		return bad("HostCacheGiB %v with window freeing (model %s has sliding-window or chunked-local layers); set DisableWindowFreeing",
			c.HostCacheGiB, c.Hardware.Model.Name)
	}
	return nil
}

// hostCacheTierOption names a host-tier option set on c ("" for none), for the
// error when there is no tier.
func (c *Config) hostCacheTierOption() string {
	switch {
	case c.HostCachePolicy != "":
		return fmt.Sprintf("HostCachePolicy %q", c.HostCachePolicy)
	case c.AsyncOffload:
		return "AsyncOffload"
	}
	return ""
}

// validateHostCachePolicy refuses a policy or AsyncOffload without a host tier
// (Run; RunCluster checks its own tier).
func (c *Config) validateHostCachePolicy() error {
	if opt := c.hostCacheTierOption(); c.Policy == PolicyPaged && opt != "" && c.HostCacheGiB == 0 {
		return fmt.Errorf("%w: %s without a host tier (HostCacheGiB)", ErrInvalid, opt)
	}
	return nil
}

// countHost adds the device↔host copies of a copy list that the iteration pays
// for to p.hostCopies: every onload, and every offload unless they are
// asynchronous (Config.AsyncOffload).
func (p *pagedPolicy) countHost(copies []paged.BlockCopy) {
	for _, c := range copies {
		if c.Dir == paged.HostToDevice || c.Dir == paged.DeviceToHost && !p.asyncOffload {
			p.hostCopies++
		}
	}
}

// takeHostCopies implements hostCopier.
func (p *pagedPolicy) takeHostCopies() int {
	n := p.hostCopies
	p.hostCopies = 0
	p.charged += n
	return n
}
