package blockpool

import (
	"errors"
	"fmt"
)

// Errors returned by the pool. They are wrapped with context; test with errors.Is.
var (
	// ErrInvalidConfig reports a bad Config.
	ErrInvalidConfig = errors.New("blockpool: invalid config")
	// ErrNoSpace reports that fewer free blocks remain than requested.
	ErrNoSpace = errors.New("blockpool: not enough free blocks")
	// ErrInvalidBlock reports an out-of-range block id or a block in the wrong state
	// (releasing a free block, caching a free or already cached block), or a negative
	// block count.
	ErrInvalidBlock = errors.New("blockpool: invalid block")
	// ErrInvalidKey reports a Key whose token count differs from the block size, or a
	// zero identity given to Cache.
	ErrInvalidKey = errors.New("blockpool: invalid key")
	// ErrInUse reports that an operation needing an idle pool found referenced blocks.
	ErrInUse = errors.New("blockpool: blocks in use")
	// ErrInvalidRetention reports a retention level out of range, a negative expiry,
	// or a clock moved backwards.
	ErrInvalidRetention = errors.New("blockpool: invalid retention")
)

// Limits on a Config. They keep block ids in int32, slot numbers
// (id × BlockSize + offset) far inside int64, and the memory New allocates bounded
// and known before it allocates anything.
const (
	// MaxBlockSize is the largest BlockSize: 2^16 tokens.
	MaxBlockSize = 1 << 16
	// MaxNumBlocks is the largest NumBlocks: 2^24 blocks (a block id is an int32).
	MaxNumBlocks = 1 << 24
	// MaxMetadataBytes bounds MetadataBytesFor(cfg): 4 GiB.
	MaxMetadataBytes = 1 << 32
	// MaxLevels is the largest Levels: 255 retention levels.
	MaxLevels = 255
	// MaxTime is the largest clock value (SetTime) and retention expiry: 2^62.
	MaxTime = 1 << 62
)

// Config configures a Pool. A zero field means its documented default; only NumBlocks
// is required.
type Config struct {
	// NumBlocks is the number of physical blocks: 1..MaxNumBlocks. Required.
	NumBlocks int
	// BlockSize is the number of tokens per block: 1..MaxBlockSize. Zero means the
	// default, 16.
	BlockSize int
	// Policy places released blocks in the free queue. Nil means the default,
	// UnhashedFirst{}.
	Policy ReleasePolicy
	// Levels is the number of retention levels of free cached blocks: 1..MaxLevels.
	// Zero means 1 (plain LRU). Free blocks of a lower level are evicted before any
	// block of a higher level (see Retention).
	Levels int
	// DefaultLevel is the level of a block nobody asked to keep longer, and the level
	// an expired retention decays to: 0..Levels-1. Default 0.
	DefaultLevel int
	// IndexChildren keeps, for every cached block, a list of the cached blocks whose
	// parent identity it carries, keyed by their first token, so Partial can find a
	// block whose leading tokens match. Default false: no child index (less memory).
	IndexChildren bool
	// OnEvict, if set, is called when a cached block is about to lose its hash because
	// it was popped for reuse (not for ResetCache or DropCached), with the block's
	// cache entry in e. It runs inside Allocate while the free queue is being edited:
	// it must not call this pool (it may call other pools).
	OnEvict func(e *Eviction)
}

// Eviction describes a cached block that Allocate is about to reuse.
type Eviction struct {
	ID BlockID
	// Key is the block's cache key. Key.Tokens aliases the pool's storage and is
	// valid only during the OnEvict call.
	Key Key
	// Ident is the block's identity (see Cache).
	Ident uint64
	// Level is the block's retention level when it was evicted.
	Level int
	// Last reports whether no other block of its group (Key.Group) carries Key.Hash.
	Last bool
}

// DefaultConfig returns a config for n blocks of 16 tokens with the default policy.
func DefaultConfig(n int) Config { return Config{NumBlocks: n, BlockSize: 16, Policy: UnhashedFirst{}} }

// MetadataBytes returns an upper bound on the bytes New allocates for a pool of
// numBlocks blocks of blockSize tokens with one retention level and no child index
// (MetadataBytesFor covers every Config). Arguments out of range give
// math.MaxInt64.
func MetadataBytes(numBlocks, blockSize int) int64 {
	return MetadataBytesFor(Config{NumBlocks: numBlocks, BlockSize: blockSize})
}

// MetadataBytesFor returns an upper bound on the bytes New(cfg) allocates: the
// 64-byte block records and free-list sentinels, the hash table (twice the next power
// of two of NumBlocks slots of 16 bytes), per block its retention expiry, a
// decay-heap entry and BlockSize stored token ids, and with IndexChildren a second
// table and two links per block.
// Arguments out of range give math.MaxInt64.
func MetadataBytesFor(cfg Config) int64 {
	if cfg.NumBlocks < 0 || cfg.NumBlocks > MaxNumBlocks || cfg.BlockSize < 0 || cfg.BlockSize > MaxBlockSize ||
		cfg.Levels < 0 || cfg.Levels > MaxLevels {
		return 1<<63 - 1
	}
	n, bs := int64(cfg.NumBlocks), int64(cfg.BlockSize)
	if bs == 0 {
		bs = 16
	}
	lists := int64(max(cfg.Levels, 1)) + 1
	b := (n+lists)*64 + 4*n*16 + n*8 + (2*n+64)*16 + n*bs*4
	if cfg.IndexChildren {
		b += 4*n*16 + n*8
	}
	return b
}

// validate applies the defaults and checks the limits.
func (c *Config) validate() error {
	if c.BlockSize == 0 {
		c.BlockSize = 16
	}
	if c.Policy == nil {
		c.Policy = UnhashedFirst{}
	}
	if c.Levels == 0 {
		c.Levels = 1
	}
	switch {
	case c.NumBlocks <= 0 || c.NumBlocks > MaxNumBlocks:
		return fmt.Errorf("%w: NumBlocks %d not in [1, %d]", ErrInvalidConfig, c.NumBlocks, MaxNumBlocks)
	case c.BlockSize < 0 || c.BlockSize > MaxBlockSize:
		return fmt.Errorf("%w: BlockSize %d not in [1, %d]", ErrInvalidConfig, c.BlockSize, MaxBlockSize)
	case c.Levels < 0 || c.Levels > MaxLevels:
		return fmt.Errorf("%w: Levels %d not in [1, %d]", ErrInvalidConfig, c.Levels, MaxLevels)
	case c.DefaultLevel < 0 || c.DefaultLevel >= c.Levels:
		return fmt.Errorf("%w: DefaultLevel %d not in [0, %d)", ErrInvalidConfig, c.DefaultLevel, c.Levels)
	}
	if b := MetadataBytesFor(*c); b > MaxMetadataBytes {
		return fmt.Errorf("%w: %d blocks of %d tokens need %d bytes of metadata, more than MaxMetadataBytes (%d)",
			ErrInvalidConfig, c.NumBlocks, c.BlockSize, b, int64(MaxMetadataBytes))
	}
	return nil
}
