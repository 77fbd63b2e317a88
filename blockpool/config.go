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
	// ErrInvalidKey reports a Key whose token count differs from the block size.
	ErrInvalidKey = errors.New("blockpool: invalid key")
	// ErrInUse reports that an operation needing an idle pool found referenced blocks.
	ErrInUse = errors.New("blockpool: blocks in use")
)

// Limits on a Config. They keep block ids in int32, slot numbers
// (id × BlockSize + offset) far inside int64, and the memory New allocates bounded
// and known before it allocates anything.
const (
	// MaxBlockSize is the largest BlockSize: 2^16 tokens.
	MaxBlockSize = 1 << 16
	// MaxNumBlocks is the largest NumBlocks: 2^24 blocks (a block id is an int32).
	MaxNumBlocks = 1 << 24
	// MaxMetadataBytes bounds MetadataBytes(NumBlocks, BlockSize): 4 GiB.
	MaxMetadataBytes = 1 << 32
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
	// OnEvict, if set, is called when a cached block loses its hash because it was
	// popped for reuse (not for ResetCache). last reports whether no other block
	// carries the hash any more. It runs inside Allocate and must not call the pool.
	OnEvict func(id BlockID, hash uint64, last bool)
}

// DefaultConfig returns a config for n blocks of 16 tokens with the default policy.
func DefaultConfig(n int) Config { return Config{NumBlocks: n, BlockSize: 16, Policy: UnhashedFirst{}} }

// MetadataBytes returns an upper bound on the bytes New allocates for a pool of
// numBlocks blocks of blockSize tokens: the 32-byte block records, the hash table
// (twice the next power of two of numBlocks slots of 12 bytes), and per block its
// parent reference, extra-key fingerprint and blockSize stored token ids. Arguments
// out of range give math.MaxInt64.
func MetadataBytes(numBlocks, blockSize int) int64 {
	if numBlocks < 0 || numBlocks > MaxNumBlocks || blockSize < 0 || blockSize > MaxBlockSize {
		return 1<<63 - 1
	}
	n := int64(numBlocks)
	return (n+1)*32 + 4*n*12 + n*(8+8) + n*int64(blockSize)*4
}

// validate applies the defaults and checks the limits.
func (c *Config) validate() error {
	if c.BlockSize == 0 {
		c.BlockSize = 16
	}
	if c.Policy == nil {
		c.Policy = UnhashedFirst{}
	}
	switch {
	case c.NumBlocks <= 0 || c.NumBlocks > MaxNumBlocks:
		return fmt.Errorf("%w: NumBlocks %d not in [1, %d]", ErrInvalidConfig, c.NumBlocks, MaxNumBlocks)
	case c.BlockSize < 0 || c.BlockSize > MaxBlockSize:
		return fmt.Errorf("%w: BlockSize %d not in [1, %d]", ErrInvalidConfig, c.BlockSize, MaxBlockSize)
	}
	if b := MetadataBytes(c.NumBlocks, c.BlockSize); b > MaxMetadataBytes {
		return fmt.Errorf("%w: %d blocks of %d tokens need %d bytes of metadata, more than MaxMetadataBytes (%d)",
			ErrInvalidConfig, c.NumBlocks, c.BlockSize, b, int64(MaxMetadataBytes))
	}
	return nil
}
