package paged

import (
	"errors"
	"fmt"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// Errors returned by the Manager, wrapped with context; test with errors.Is. Every
// method that returns an error leaves the Manager exactly as it was.
var (
	// ErrInvalidConfig reports a bad Config.
	ErrInvalidConfig = errors.New("paged: invalid config")
	// ErrUnknownSequence reports a SeqID that is not live (never added, or freed).
	ErrUnknownSequence = errors.New("paged: unknown sequence")
	// ErrInvalidArgument reports an argument out of range for the sequence's state.
	ErrInvalidArgument = errors.New("paged: invalid argument")
	// ErrNoSpace reports that a reservation needs more free blocks than there are.
	// The scheduler may preempt a sequence or wait, then retry.
	ErrNoSpace = errors.New("paged: not enough free blocks")
	// ErrSwapped reports an operation that needs device blocks on a swapped-out
	// sequence; SwapIn it first.
	ErrSwapped = errors.New("paged: sequence is swapped out")
	// ErrNoHostTier reports a swap with no host tier configured (Config.HostBlocks).
	ErrNoHostTier = errors.New("paged: no host tier")
	// ErrCacheInUse reports that ResetPrefixCache found blocks still referenced.
	ErrCacheInUse = errors.New("paged: prefix cache reset refused while blocks are in use")
)

// Config configures a Manager. Start from DefaultConfig and set NumBlocks.
type Config struct {
	// NumBlocks is the number of physical KV blocks (required, > 0).
	NumBlocks int
	// BlockSize is the number of tokens per block. Default 16.
	BlockSize int
	// EnablePrefixCaching shares full blocks between sequences with equal prefixes.
	// Default true.
	EnablePrefixCaching bool
	// Watermark is the fraction of blocks CanAdmit keeps free for running sequences
	// to grow into, in [0, 1). Default 0.01 (vLLM V0's default).
	Watermark float64
	// ReleasePolicy places released blocks in the free queue (the eviction order).
	// Default blockpool.UnhashedFirst{}.
	ReleasePolicy blockpool.ReleasePolicy
	// Hasher hashes blocks. Default prefix.XXHash{}.
	Hasher prefix.Hasher
	// HashSeed selects the root hash. Default 0.
	HashSeed uint64
	// StatsWindow is the number of most recent requests over which Stats reports the
	// recent prefix-cache hit rate. Default 1000.
	StatsWindow int
	// Events, if set, receives prefix-cache events (see EventSink). Default nil.
	Events EventSink
	// HostBlocks is the size of the host (CPU) tier that SwapOut moves sequences to;
	// 0 (the default) means no host tier.
	HostBlocks int
}

// DefaultConfig returns the defaults: block size 16, prefix caching on, watermark
// 0.01, unhashed-first release, xxHash, a 1000-request stats window. NumBlocks is left
// 0 and must be set.
func DefaultConfig() Config {
	return Config{
		BlockSize:           16,
		EnablePrefixCaching: true,
		Watermark:           0.01,
		ReleasePolicy:       blockpool.UnhashedFirst{},
		Hasher:              prefix.XXHash{},
		StatsWindow:         1000,
	}
}

func (c *Config) validate() error {
	switch {
	case c.NumBlocks <= 0 || c.NumBlocks >= 1<<31-1:
		return fmt.Errorf("%w: NumBlocks %d out of range", ErrInvalidConfig, c.NumBlocks)
	case c.BlockSize <= 0:
		return fmt.Errorf("%w: BlockSize %d must be positive", ErrInvalidConfig, c.BlockSize)
	case !(c.Watermark >= 0 && c.Watermark < 1):
		return fmt.Errorf("%w: Watermark %v not in [0,1)", ErrInvalidConfig, c.Watermark)
	case c.HostBlocks < 0 || c.HostBlocks >= 1<<31-1:
		return fmt.Errorf("%w: HostBlocks %d out of range", ErrInvalidConfig, c.HostBlocks)
	case c.StatsWindow <= 0:
		return fmt.Errorf("%w: StatsWindow %d must be positive", ErrInvalidConfig, c.StatsWindow)
	}
	if c.ReleasePolicy == nil {
		c.ReleasePolicy = blockpool.UnhashedFirst{}
	}
	if c.Hasher == nil {
		c.Hasher = prefix.XXHash{}
	}
	return nil
}
