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
	// MaxEventQueueSize is the largest EventOptions.QueueSize: 2^20 events.
	MaxEventQueueSize = 1 << 20
	// MaxEventQueueTokens is the largest EventOptions.QueueTokens: 2^26 token ids.
	MaxEventQueueTokens = 1 << 26
)

// Defaults applied to zero fields of a Config.
const (
	DefaultBlockSize        = 16
	DefaultWatermark        = 0.01
	DefaultStatsWindow      = 1000
	DefaultEventQueueSize   = 1 << 16
	DefaultEventQueueTokens = 1 << 22
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
// host tier, no events. NumBlocks is left 0 and must be set.
func DefaultConfig() Config {
	return Config{
		BlockSize:     DefaultBlockSize,
		Watermark:     DefaultWatermark,
		ReleasePolicy: UnhashedFirst{},
		Hasher:        prefix.XXH3{},
		StatsWindow:   DefaultStatsWindow,
	}
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
	}
	if b := blockpool.MetadataBytes(c.NumBlocks, c.BlockSize) + blockpool.MetadataBytes(c.HostBlocks, c.BlockSize); b > MaxMetadataBytes {
		return fmt.Errorf("%w: %d device and %d host blocks of %d tokens need %d bytes of metadata, more than MaxMetadataBytes (%d)",
			ErrInvalidConfig, c.NumBlocks, c.HostBlocks, c.BlockSize, b, int64(MaxMetadataBytes))
	}
	return nil
}
