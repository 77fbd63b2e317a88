package paged

import (
	"fmt"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// Limits on a Config, on sequences and on counts passed to the Manager. Every count
// is checked against them before any arithmetic, so no argument can overflow an int,
// and the memory New allocates is known (and bounded) before it allocates.
const (
	// MaxBlockSize is the largest Config.BlockSize: 2^16 tokens.
	MaxBlockSize = blockpool.MaxBlockSize
	// MaxNumBlocks is the largest Config.NumBlocks and Config.HostBlocks: 2^24.
	MaxNumBlocks = blockpool.MaxNumBlocks
	// MaxMetadataBytes bounds the memory New allocates for the block metadata of
	// both tiers (blockpool.MetadataBytes of each): 4 GiB.
	MaxMetadataBytes = blockpool.MaxMetadataBytes
	// MaxStatsWindow is the largest Config.StatsWindow: 2^20 requests.
	MaxStatsWindow = 1 << 20
	// MaxSeqLen is the most tokens a sequence may hold (prompt plus appended tokens),
	// and the largest prompt length, capacity, lookahead or token count any method
	// accepts: 2^28 (sums of three such counts still fit a 32-bit int). Slot numbers
	// (block id × BlockSize + offset) are below 2^40 and returned as int64.
	MaxSeqLen = 1 << 28
	// MaxPreallocTokens bounds the token room SeqOptions.Capacity preallocates.
	MaxPreallocTokens = 1 << 20
	// MaxEventQueueSize is the largest EventOptions.QueueSize: 2^20 events.
	MaxEventQueueSize = 1 << 20
	// MaxEventQueueTokens is the largest EventOptions.QueueTokens: 2^26 token ids.
	MaxEventQueueTokens = 1 << 26
	// MinPriority and MaxPriority bound SeqOptions.Priority and
	// HostCacheOptions.MinPriority; 0 is the default priority.
	MinPriority, MaxPriority = -100, 100
	// MaxTime is the largest clock value (SetClock) and SeqOptions.PriorityDuration:
	// 2^62 ticks.
	MaxTime = blockpool.MaxTime
	// MaxMinHits is the largest HostCacheOptions.MinHits: 2^20.
	MaxMinHits = 1 << 20
)

// Defaults applied to zero fields of a Config.
const (
	DefaultBlockSize        = 16
	DefaultWatermark        = 0.01
	DefaultStatsWindow      = 1000
	DefaultEventQueueSize   = 1 << 16
	DefaultEventQueueTokens = 1 << 22
	// DefaultMaxPinnedFraction is the share of the device blocks pins may hold.
	DefaultMaxPinnedFraction = 0.5
)

// Config configures a Manager. A zero field means its documented default, so
// Config{NumBlocks: n} is a complete configuration; DefaultConfig spells the
// defaults out.
type Config struct {
	// NumBlocks is the number of physical KV blocks: 1..MaxNumBlocks. Required.
	NumBlocks int
	// BlockSize is the number of tokens per block: 1..MaxBlockSize. Zero means
	// DefaultBlockSize (16).
	BlockSize int
	// Groups lists the KV-cache groups of a hybrid model (see KVGroup): one block
	// table per group per sequence, all drawing from the one pool of NumBlocks blocks.
	// Nil or empty means one full-attention group, the plain model: every method then
	// behaves as without groups. At most MaxGroups. Groups other than one
	// full-attention group do not combine with HostBlocks, PartialBlockReuse,
	// RegisterAtReserve or DropLastHitBlock (ErrInvalidConfig), and Pin refuses them.
	Groups []KVGroup
	// GroupedEviction makes the blocks holding one prefix position in every
	// KV-cache group leave the prefix cache together. Free then releases a
	// sequence's blocks position by position, every group's block of a position side
	// by side, the last position first; and the blocks its windowed groups released
	// mid-sequence that are still cached and free (or another free copy of the same
	// content) rejoin the free queue at their positions among them. By default
	// (vLLM's order) Free releases each group's table in turn, and window blocks stay
	// where their mid-sequence release put them, ahead of the full-attention blocks of
	// the same prefix: they are evicted first, and since a hybrid hit needs the
	// window's blocks before the hit point as well as every full-attention block, the
	// prefix's hits collapse while its full-attention blocks still take cache space
	// (vLLM issue 48435). Costs one cache lookup per released window block at Free.
	// No effect without a windowed group (Groups). Default false: measured in kvsim
	// it is no clear gain. gpt-oss-20b on an H100, Mooncake synthetic trace (hits at
	// any depth of shared prefixes): hit rate 1.7 → 2.1 % (8.8 % with every block
	// kept); Mooncake conversation 4.3 % either way; multi-turn ShareGPT at
	// -mem-util 0.55, whose next turns need only the last window, 73.1 → 70.1 %:
	// the brought-back window blocks crowd out other prefixes.
	GroupedEviction bool
	// DisablePrefixCaching turns off sharing of full blocks between sequences with
	// equal prefixes. Default false: prefix caching is on.
	DisablePrefixCaching bool
	// Watermark is the fraction of blocks admission (CanAdmit, Admit) keeps free for
	// running sequences to grow into, in [0, 1). Zero means DefaultWatermark (0.01,
	// vLLM V0's default); set DisableWatermark for none.
	Watermark float64
	// DisableWatermark makes admission keep no blocks free (Watermark must then be 0).
	DisableWatermark bool
	// ReleasePolicy places released blocks in the free queue (the eviction order).
	// Nil means UnhashedFirst{}.
	ReleasePolicy ReleasePolicy
	// Hasher hashes blocks. Nil means prefix.XXH3{} (XXH3-64). Set prefix.VLLM{...}
	// to hash exactly as a vLLM engine does (block ids then equal vLLM's KV-event ids).
	Hasher prefix.Hasher
	// HashSeed selects the root hash. Default 0.
	HashSeed uint64
	// StatsWindow is the number of most recent requests over which Stats reports the
	// recent prefix-cache hit rate: 1..MaxStatsWindow. Zero means DefaultStatsWindow
	// (1000).
	StatsWindow int
	// HostBlocks is the size of the host (CPU) tier that SwapOut moves sequences to:
	// 0..MaxNumBlocks. Zero (the default) means no host tier.
	HostBlocks int
	// Events configures the prefix-cache event queue (TakeEvents). The zero value
	// records no events.
	Events EventOptions

	// HostCache turns the host tier (HostBlocks, which must then be > 0) into a
	// second prefix-cache tier as well: cached device blocks are copied to host blocks
	// that keep their hash, and lookups and admissions find them there. The zero
	// value keeps the host tier for swapping only. See HostCacheOptions.
	HostCache HostCacheOptions
	// PartialBlockReuse, when a prompt's hit ends inside a block whose first k tokens
	// match a cached block (same parent, same leading tokens, no extra keys), copies
	// that block into a fresh one and reuses its k tokens instead of recomputing them
	// (TensorRT-LLM's copy-on-partial-reuse). Costs a child index in the pool (about
	// 72 bytes per block) and one block copy per reuse. Default false.
	PartialBlockReuse bool
	// RegisterAtReserve registers a sequence's blocks in the prefix cache when the
	// reservation that fills them is made (vLLM V1), not when MarkComputed reports
	// them written (the default), so identical prompts admitted in the same step
	// share blocks instead of computing them twice. The trade-off: a hit may point at
	// KV the engine has not written yet, so the engine must compute every token it
	// reserved in the step before attention reads any of them (vLLM's premise), and
	// must not Free, Rollback or SwapOut a sequence between a reservation and the
	// step that computes it. Default false.
	RegisterAtReserve bool
	// MatchDuplicateParents lets a lookup continue through a duplicate of a block (the
	// same content computed twice, e.g. by two prompts admitted together): a cached
	// block is found through any cached block equivalent to its parent, as vLLM finds
	// it by hash alone. The default (false) follows only the exact parent each block
	// was registered under, so evicting one copy of a duplicated block cuts the
	// children registered under it (vLLM reports 32 hit tokens where pagedkv reports
	// 16 in the two-block example of TestDuplicateParents). The cost: each
	// registration looks its block up first.
	MatchDuplicateParents bool
	// DropLastHitBlock drops the last reused block (or the partially reused one) from
	// every hit, so its tokens are recomputed: EAGLE/MTP drafters need the hidden
	// states of those positions (vLLM's use_eagle). Default false.
	DropLastHitBlock bool
	// MaxPinnedFraction is the share of NumBlocks that Pin may hold in (0, 1]; Pin
	// beyond it returns ErrPinLimit. Zero means DefaultMaxPinnedFraction (0.5).
	MaxPinnedFraction float64
}

// HostCachePolicy says when a cached device block is copied to the host tier.
type HostCachePolicy uint8

const (
	// HostCacheOff: the host tier only holds swapped-out sequences (the default).
	HostCacheOff HostCachePolicy = iota
	// WriteBack copies a cached device block to the host when it is evicted, lazily:
	// the copy is returned by the call whose allocation reuses the device block,
	// ahead of every copy that writes it (vLLM's CPU offloading, TensorRT-LLM's
	// secondary pool).
	WriteBack
	// WriteThrough copies a block to the host as soon as it is registered (or, with
	// MinHits, once it was hit that many times: SGLang HiCache's selective policy);
	// the copy is returned by the next call that returns a copy list. An evicted
	// block without a host copy is still copied then, as with WriteBack.
	WriteThrough
)

// String returns "off", "write-back" or "write-through".
func (p HostCachePolicy) String() string {
	switch p {
	case HostCacheOff:
		return "off"
	case WriteBack:
		return "write-back"
	case WriteThrough:
		return "write-through"
	}
	return fmt.Sprintf("HostCachePolicy(%d)", int(p))
}

// HostCacheOptions configures the host prefix-cache tier. The zero value is off.
//
// One host pool serves both uses: its blocks hold swapped-out sequences (referenced,
// never cached) and cached copies of device blocks (free, evicted LRU, found by
// lookups). Swapping has priority: SwapOut evicts cached host blocks to make room,
// and cached copies never displace a swapped sequence; an offload that finds no free
// host block is skipped. The tiers are inclusive: an onloaded block keeps its host
// copy, so evicting it again needs no copy.
type HostCacheOptions struct {
	// Policy is when blocks are copied to the host. Default HostCacheOff.
	Policy HostCachePolicy
	// MinHits, with WriteThrough, copies a block only once prompts have hit it
	// MinHits times (0..MaxMinHits; 0: at registration).
	MinHits int
	// MinPriority: a block is copied to the host only if its retention priority (see
	// SeqOptions.Priority) is at least MinPriority (MinPriority..MaxPriority); lower
	// ones are dropped on eviction to save host traffic (TensorRT-LLM's
	// secondary_offload_min_priority). Default 0: every block of default or higher
	// priority.
	MinPriority int
}

// EventOptions configures the bounded queue of prefix-cache events that TakeEvents
// drains. The zero value is "off".
type EventOptions struct {
	// Enabled turns the queue on. Default false: no events are recorded.
	Enabled bool
	// QueueSize bounds the number of queued events: 1..MaxEventQueueSize. Zero means
	// DefaultEventQueueSize (65,536).
	QueueSize int
	// QueueTokens bounds the token ids carried by queued BlockStored events:
	// 1..MaxEventQueueTokens. Zero means DefaultEventQueueTokens (4,194,304).
	QueueTokens int
	// PerDistinctHash reports hashes rather than blocks: BlockStored only for a hash
	// no other cached block carries, BlockRemoved only when the last block carrying a
	// hash is evicted, so duplicates are invisible. Default false: vLLM's form, a
	// BlockStored for every registration (duplicates included) and a BlockRemoved for
	// every evicted block — what a router's index of vLLM engines expects.
	PerDistinctHash bool
}

// DefaultConfig returns every default spelled out: block size 16, prefix caching on,
// watermark 0.01, unhashed-first release, XXH3, a 1000-request stats window, no
// host tier, no events, pins up to half the pool. NumBlocks is left 0 and must be
// set.
func DefaultConfig() Config {
	return Config{
		BlockSize:         DefaultBlockSize,
		Watermark:         DefaultWatermark,
		ReleasePolicy:     UnhashedFirst{},
		Hasher:            prefix.XXH3{},
		StatsWindow:       DefaultStatsWindow,
		MaxPinnedFraction: DefaultMaxPinnedFraction,
	}
}

// metadataBytes bounds what New allocates for block metadata: both pools
// (blockpool.MetadataBytesFor) and, with a host cache, the per-block origins of both
// tiers.
func (c *Config) metadataBytes() int64 {
	dev := blockpool.MetadataBytesFor(c.devicePoolConfig())
	host := blockpool.MetadataBytesFor(c.hostPoolConfig())
	if c.HostCache.Policy != HostCacheOff {
		host += int64(c.NumBlocks+c.HostBlocks) * originBytes
	}
	return dev + host
}

// devicePoolConfig is the device pool's configuration (without the eviction hook).
func (c *Config) devicePoolConfig() blockpool.Config {
	return blockpool.Config{NumBlocks: c.NumBlocks, BlockSize: c.BlockSize, Policy: c.ReleasePolicy,
		Levels: MaxPriority - MinPriority + 1, DefaultLevel: -MinPriority, IndexChildren: c.PartialBlockReuse}
}

// hostPoolConfig is the host pool's configuration (one level: LRU).
func (c *Config) hostPoolConfig() blockpool.Config {
	return blockpool.Config{NumBlocks: c.HostBlocks, BlockSize: c.BlockSize, IndexChildren: c.PartialBlockReuse}
}

// validate applies the defaults to zero fields and checks every limit.
func (c *Config) validate() error {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.Watermark == 0 && !c.DisableWatermark {
		c.Watermark = DefaultWatermark
	}
	if c.StatsWindow == 0 {
		c.StatsWindow = DefaultStatsWindow
	}
	if c.ReleasePolicy == nil {
		c.ReleasePolicy = UnhashedFirst{}
	}
	if c.Hasher == nil {
		c.Hasher = prefix.XXH3{}
	}
	if c.MaxPinnedFraction == 0 {
		c.MaxPinnedFraction = DefaultMaxPinnedFraction
	}
	if c.Events.Enabled {
		if c.Events.QueueSize == 0 {
			c.Events.QueueSize = DefaultEventQueueSize
		}
		if c.Events.QueueTokens == 0 {
			c.Events.QueueTokens = DefaultEventQueueTokens
		}
	}
	switch {
	case c.NumBlocks <= 0 || c.NumBlocks > MaxNumBlocks:
		return fmt.Errorf("%w: NumBlocks %d not in [1, %d]", ErrInvalidConfig, c.NumBlocks, MaxNumBlocks)
	case c.BlockSize < 0 || c.BlockSize > MaxBlockSize:
		return fmt.Errorf("%w: BlockSize %d not in [1, %d]", ErrInvalidConfig, c.BlockSize, MaxBlockSize)
	case !(c.Watermark >= 0 && c.Watermark < 1):
		return fmt.Errorf("%w: Watermark %v not in [0, 1)", ErrInvalidConfig, c.Watermark)
	case c.DisableWatermark && c.Watermark != 0:
		return fmt.Errorf("%w: Watermark %v set with DisableWatermark", ErrInvalidConfig, c.Watermark)
	case c.HostBlocks < 0 || c.HostBlocks > MaxNumBlocks:
		return fmt.Errorf("%w: HostBlocks %d not in [0, %d]", ErrInvalidConfig, c.HostBlocks, MaxNumBlocks)
	case c.StatsWindow < 0 || c.StatsWindow > MaxStatsWindow:
		return fmt.Errorf("%w: StatsWindow %d not in [1, %d]", ErrInvalidConfig, c.StatsWindow, MaxStatsWindow)
	case c.Events.QueueSize < 0 || c.Events.QueueSize > MaxEventQueueSize:
		return fmt.Errorf("%w: Events.QueueSize %d not in [1, %d]", ErrInvalidConfig, c.Events.QueueSize, MaxEventQueueSize)
	case c.Events.QueueTokens < 0 || c.Events.QueueTokens > MaxEventQueueTokens:
		return fmt.Errorf("%w: Events.QueueTokens %d not in [1, %d]", ErrInvalidConfig, c.Events.QueueTokens, MaxEventQueueTokens)
	case !(c.MaxPinnedFraction > 0 && c.MaxPinnedFraction <= 1):
		return fmt.Errorf("%w: MaxPinnedFraction %v not in (0, 1]", ErrInvalidConfig, c.MaxPinnedFraction)
	case c.HostCache.Policy > WriteThrough:
		return fmt.Errorf("%w: HostCache.Policy %v", ErrInvalidConfig, c.HostCache.Policy)
	case c.HostCache.Policy != HostCacheOff && c.HostBlocks == 0:
		return fmt.Errorf("%w: HostCache.Policy %v needs HostBlocks", ErrInvalidConfig, c.HostCache.Policy)
	case c.HostCache.Policy != HostCacheOff && c.DisablePrefixCaching:
		return fmt.Errorf("%w: HostCache.Policy %v with DisablePrefixCaching", ErrInvalidConfig, c.HostCache.Policy)
	case c.HostCache.MinHits < 0 || c.HostCache.MinHits > MaxMinHits:
		return fmt.Errorf("%w: HostCache.MinHits %d not in [0, %d]", ErrInvalidConfig, c.HostCache.MinHits, MaxMinHits)
	case c.HostCache.MinPriority < MinPriority || c.HostCache.MinPriority > MaxPriority:
		return fmt.Errorf("%w: HostCache.MinPriority %d not in [%d, %d]", ErrInvalidConfig, c.HostCache.MinPriority, MinPriority, MaxPriority)
	}
	if err := c.validateGroups(); err != nil {
		return err
	}
	if b := c.metadataBytes(); b > MaxMetadataBytes {
		return fmt.Errorf("%w: %d device and %d host blocks of %d tokens need %d bytes of metadata, more than MaxMetadataBytes (%d)",
			ErrInvalidConfig, c.NumBlocks, c.HostBlocks, c.BlockSize, b, int64(MaxMetadataBytes))
	}
	return nil
}
