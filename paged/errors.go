package paged

import (
	"errors"
	"fmt"
)

// Errors returned by the Manager, wrapped with context; test with errors.Is. Every
// method that returns an error leaves the Manager exactly as it was.
var (
	// ErrInvalidConfig reports a bad Config.
	ErrInvalidConfig = errors.New("paged: invalid config")
	// ErrUnknownSequence reports a SeqID that is not live (never added, or freed).
	ErrUnknownSequence = errors.New("paged: unknown sequence")
	// ErrInvalidArgument reports an argument out of range for the sequence's state or
	// beyond a documented limit.
	ErrInvalidArgument = errors.New("paged: invalid argument")
	// ErrNoSpace reports that a reservation needs more free blocks than there are.
	// The scheduler may preempt a sequence or wait, then retry.
	ErrNoSpace = errors.New("paged: not enough free blocks")
	// ErrSwapped reports an operation that needs device blocks on a swapped-out
	// sequence; SwapIn it first.
	ErrSwapped = errors.New("paged: sequence is swapped out")
	// ErrNoHostTier reports a swap with no host tier configured (Config.HostBlocks).
	ErrNoHostTier = errors.New("paged: no host tier")
	// ErrCacheInUse reports that ResetPrefixCache found blocks still referenced
	// (by sequences or pins).
	ErrCacheInUse = errors.New("paged: prefix cache reset refused while blocks are in use")
	// ErrPinLimit reports a Pin that would hold more than Config.MaxPinnedFraction of
	// the device blocks.
	ErrPinLimit = errors.New("paged: pinned blocks would exceed MaxPinnedFraction")
	// ErrUnknownPin reports a PinID that is not live (never returned, or unpinned).
	ErrUnknownPin = errors.New("paged: unknown pin")
	// ErrNotCached reports a Pin of a prompt none of whose blocks is cached on the
	// device.
	ErrNotCached = errors.New("paged: prompt not cached")
)

// errf wraps a sentinel with a formatted message.
func errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
