package sim

import (
	"errors"
	"fmt"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/paged"
)

// ErrInvalid reports a bad simulator configuration or workload.
var ErrInvalid = errors.New("sim: invalid input")

// Limits on a Config, so that no setting makes the simulator allocate without bound.
const (
	// MaxBlockSize bounds Config.BlockSize (tokens per block).
	MaxBlockSize = 1 << 16
	// MaxSwapGiB bounds Config.SwapSpaceGiB (host memory per GPU).
	MaxSwapGiB = 256
)

// Config configures one simulation run. The zero value of every field means its
// documented default, so Config{} runs the vLLM paper's setting with the paged
// policy; DefaultConfig returns the same with the defaults written out.
type Config struct {
	// Hardware is the deployment; zero fields take hardware.Default()'s values
	// (OPT-13B on one A100-40GB; see hardware.Deployment.WithDefaults).
	Hardware hardware.Deployment
	// Policy is one of PolicyNames(). Default PolicyPaged.
	Policy string
	// BlockSize (paged only) is tokens per block, in [1, MaxBlockSize] and at most
	// the KV capacity. Default 16.
	BlockSize int
	// DisablePrefixCaching (paged only) turns prefix caching off. Default: on.
	DisablePrefixCaching bool
	// ReleasePolicy (paged only): the free-queue placement. Default unhashed-first.
	ReleasePolicy paged.ReleasePolicy
	// Watermark (paged only): fraction of blocks admission keeps free, in [0, 1).
	// Default 0.01 (zero means the default; a value below 1/blocks keeps none back).
	Watermark float64
	// MaxBatchTokens is the token budget of one iteration. Default max(2048, the
	// model's MaxSeqLen).
	MaxBatchTokens int
	// MaxSeqs caps running requests. Default 256.
	MaxSeqs int
	// ChunkedPrefill splits prompts across iterations to fit the token budget.
	// Default off.
	ChunkedPrefill bool
	// DisableWindowFreeing (paged only) serves a model with sliding-window layers
	// (hardware.Model.Window) or chunked-local layers (Model.Chunk) as if every
	// layer attended fully: one block table, nothing released (vLLM's
	// --disable-hybrid-kv-cache-manager). Default false: the layers form KV-cache
	// groups and the windows (chunks) release their blocks (see paged_groups.go);
	// that does not combine with SwapSpaceGiB.
	DisableWindowFreeing bool
	// GroupedEviction (paged, with window freeing) keeps a prefix's blocks of
	// every KV-cache group together in the eviction order
	// (paged.Config.GroupedEviction): window blocks a request released
	// mid-sequence no longer leave the cache before the prefix's full-attention
	// blocks, which collapses hybrid prefix hits. Default false (vLLM's order).
	GroupedEviction bool
	// SwapSpaceGiB (paged only) is host memory for swapped-out KV, in [0,
	// MaxSwapGiB]: preemption swaps the victim out and swaps it back in before new
	// requests are admitted, each move costing hardware.Deployment.HostCopyTime
	// (a copy per block per layer for K and V, plus the bytes over HostBandwidth),
	// added to the iteration. 0 (the default) means recompute; a victim that does
	// not fit in the host tier is recomputed too.
	SwapSpaceGiB float64
	// HostCacheGiB (paged only) is a host prefix-cache tier of this many GiB per
	// engine (the host memory of all its tensor-parallel GPUs together, as vLLM's
	// --kv-offloading-size), in [0, MaxHostCacheGiB]: cached prefix blocks leaving
	// the GPU are kept there and copied back on a hit instead of being recomputed,
	// each copy charged to the iteration like a swap (host_cache.go). It shares one
	// host pool with SwapSpaceGiB (swapped KV never takes more than SwapSpaceGiB of
	// it). Needs prefix caching; a model with sliding-window layers needs
	// DisableWindowFreeing. 0 (the default): no host prefix cache.
	HostCacheGiB float64
	// HostCachePolicy (with HostCacheGiB) is when blocks are copied to the host, one
	// of HostCachePolicyNames(). Default HostCacheWriteBack.
	HostCachePolicy string
	// HostCacheMinHits (HostCacheWriteThroughSelective only) is how many prompts
	// must have hit a block before it is copied, in [0, paged.MaxMinHits]. 0 means
	// DefaultSelectiveMinHits (1).
	HostCacheMinHits int
	// AsyncOffload (with a host prefix-cache tier) lets device → host copies
	// overlap the forward pass, as vLLM's OffloadingConnector and HiCache do: they
	// are not charged to iterations. Default false: every copy is charged as a swap
	// is (the conservative choice). Onloads are always charged.
	AsyncOffload bool
	// Seed drives the simulator's own random choices (beam selection).
	Seed uint64
	// Progress, if set, is called now and then with the fraction of requests done.
	Progress func(done float64)

	// checkEvery, when positive, makes the engine check every invariant (its own,
	// the policy's, the allocator's) after every checkEvery-th iteration and at the
	// end of the run (tests).
	checkEvery int
	// Cluster mode (RunCluster) sets these per engine: numBlocks, when positive,
	// replaces the KV blocks the deployment leaves, and hostCacheBlocks adds a host
	// prefix-cache tier (ClusterConfig.CacheTokens); events turns on the paged
	// manager's event queue that feeds the cluster index.
	numBlocks, hostCacheBlocks int
	events                     paged.EventOptions
}

// kvBlocks is the paged policy's device blocks: numBlocks, or what the deployment's
// KV memory holds (in KV-cache groups' blocks for models with sliding windows:
// paged_groups.go).
func (c *Config) kvBlocks() int {
	if c.numBlocks > 0 {
		return c.numBlocks
	}
	_, blocks := pagedGroups(c)
	return blocks
}

// DefaultConfig is Config{} with its defaults written out: the paged policy with
// block size 16, prefix caching on and a 1% watermark, at most 256 running requests,
// on hardware.Default().
func DefaultConfig() Config {
	return Config{Hardware: hardware.Default(), Policy: PolicyPaged, BlockSize: 16, Watermark: 0.01, MaxSeqs: 256}
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c.Hardware = c.Hardware.WithDefaults()
	if c.Policy == "" {
		c.Policy = PolicyPaged
	}
	if c.BlockSize == 0 {
		c.BlockSize = 16
	}
	if c.Watermark == 0 {
		c.Watermark = 0.01
	}
	if c.MaxBatchTokens == 0 {
		c.MaxBatchTokens = max(2048, c.Hardware.Model.MaxSeqLen)
	}
	if c.MaxSeqs == 0 {
		c.MaxSeqs = 256
	}
	return c
}

// validate checks a Config with its defaults applied; errors wrap ErrInvalid and
// name the field.
func (c *Config) validate() error {
	if err := c.Hardware.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, ok := lookupPolicy(c.Policy); !ok {
		return fmt.Errorf("%w: unknown Policy %q (want one of %v)", ErrInvalid, c.Policy, PolicyNames())
	}
	switch slots := c.Hardware.KVSlots(); {
	case c.BlockSize < 1 || c.BlockSize > MaxBlockSize:
		return fmt.Errorf("%w: BlockSize %d not in [1, %d]", ErrInvalid, c.BlockSize, MaxBlockSize)
	case c.Policy == PolicyPaged && c.BlockSize > slots:
		return fmt.Errorf("%w: BlockSize %d is larger than the KV capacity (%d token slots)", ErrInvalid, c.BlockSize, slots)
	case !(c.Watermark >= 0 && c.Watermark < 1):
		return fmt.Errorf("%w: Watermark %v not in [0, 1)", ErrInvalid, c.Watermark)
	case c.MaxBatchTokens < 0:
		return fmt.Errorf("%w: MaxBatchTokens %d is negative", ErrInvalid, c.MaxBatchTokens)
	case c.MaxSeqs < 0:
		return fmt.Errorf("%w: MaxSeqs %d is negative", ErrInvalid, c.MaxSeqs)
	case !(c.SwapSpaceGiB >= 0 && c.SwapSpaceGiB <= MaxSwapGiB):
		return fmt.Errorf("%w: SwapSpaceGiB %v not in [0, %d]", ErrInvalid, c.SwapSpaceGiB, MaxSwapGiB)
	}
	if err := c.validateHostCache(); err != nil {
		return err
	}
	return c.validateWindow()
}

// blockBytes is one KV block's size on one GPU.
func (c *Config) blockBytes() float64 {
	return float64(c.BlockSize) * c.Hardware.KVBytesPerTokenPerGPU()
}

// hostBlocks is the swap space's size in blocks (SwapSpaceGiB per GPU).
func (c *Config) hostBlocks() int {
	return int(c.SwapSpaceGiB * hardware.GiB / c.blockBytes())
}
