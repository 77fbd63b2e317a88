package cluster

import (
	"context"
	"errors"
)

// Errors returned by this package, wrapped with context; test with errors.Is. A call
// that returns an error changes nothing (for the Redis backend: nothing that its
// Lua script did not complete atomically).
var (
	// ErrInvalidConfig reports a bad configuration.
	ErrInvalidConfig = errors.New("cluster: invalid config")
	// ErrInvalidBatch reports a malformed update batch (bad engine id, tier, event
	// kind, sequence number, or too many hashes). Nothing was applied.
	ErrInvalidBatch = errors.New("cluster: invalid batch")
	// ErrInvalidArgument reports a bad argument to a query or engine operation.
	ErrInvalidArgument = errors.New("cluster: invalid argument")
	// ErrUnavailable reports that the index backend could not be reached or failed
	// (Redis down, timeout). Routers treat it by routing on load alone.
	ErrUnavailable = errors.New("cluster: index unavailable")
	// ErrUnknownTicket reports a Finish for a ticket that is not outstanding.
	ErrUnknownTicket = errors.New("cluster: unknown ticket")
	// ErrClosed reports a call on a closed index.
	ErrClosed = errors.New("cluster: index closed")
)

// EngineID names one engine (one vLLM instance, or one data-parallel rank of it):
// 1 to MaxEngineIDLen bytes of printable ASCII without '|' (the Redis layout uses '|'
// as a separator).
type EngineID string

// MaxEngineIDLen is the longest accepted EngineID.
const MaxEngineIDLen = 255

// MaxSeq is the largest accepted per-engine sequence number (2^53 − 1: the Redis
// backend's Lua numbers are doubles).
const MaxSeq = 1<<53 - 1

// Tier is the medium a block lives in, as in vLLM's KV events ("GPU", "CPU").
type Tier uint8

const (
	// TierGPU is device memory (vLLM medium "GPU"). The zero Tier.
	TierGPU Tier = iota
	// TierCPU is host memory (vLLM medium "CPU"), e.g. an offloading connector's tier.
	TierCPU
	numTiers
)

// String returns "GPU" or "CPU" (vLLM's medium names).
func (t Tier) String() string {
	switch t {
	case TierGPU:
		return "GPU"
	case TierCPU:
		return "CPU"
	}
	return "Tier(?)"
}

// EventKind is the kind of an index update event.
type EventKind uint8

const (
	// Stored: the engine now holds Hashes in Tier (vLLM BlockStored).
	Stored EventKind = iota + 1
	// Removed: the engine dropped one block of each of Hashes from Tier (vLLM
	// BlockRemoved).
	Removed
	// Cleared: the engine dropped everything, in every tier (vLLM AllBlocksCleared).
	Cleared
)

// Event is one update from one engine, in the index's own terms: adapters turn vLLM
// KV events (or paged.Manager events) into these.
//
// The index counts blocks per (hash, engine, tier): Stored twice and Removed once
// leaves the hash held, matching vLLM, which reports every block (duplicates of one
// hash included) when it is cached and when it is evicted. A Removed for a hash the
// engine does not hold is ignored. Counts saturate at 255; a Removed on a saturated
// count removes the entry (the safe direction: a miss, never a stale hit).
type Event struct {
	Kind EventKind
	// Hashes are block hashes in chain order (Stored, Removed); empty for Cleared.
	Hashes []uint64
	// Parent is the hash of the block before Hashes[0] (Stored, when HasParent). The
	// index keeps no tree and does not use it; it is carried so adapters can pass
	// vLLM's parent_block_hash through unchanged.
	Parent    uint64
	HasParent bool
	// Tier is the medium (Stored, Removed); ignored for Cleared.
	Tier Tier
}

// Batch is one engine's update batch. Seq is the engine's batch sequence number
// (vLLM's publisher numbers batches 0, 1, 2, ...); batches of one engine are applied
// strictly in Seq order (see ApplyResult).
type Batch struct {
	Engine EngineID
	Seq    uint64
	Events []Event
}

// Outcome says what Apply did with a batch.
type Outcome uint8

const (
	// Applied: the batch changed the index; the engine now expects Seq+1.
	Applied Outcome = iota + 1
	// Duplicate: Seq was already applied (a replay overlap or a redelivery); nothing
	// changed.
	Duplicate
	// Gap: Seq is ahead of the expected sequence number: batches were lost or arrive
	// out of order. Nothing was applied; the engine's entries are hidden from
	// matching until every batch up to Seq has been applied in order. The caller
	// replays from ApplyResult.Next (then re-sends this batch), or calls Resync.
	Gap
	// Refused: the engine is stale (MarkStale) and accepts nothing until Resync.
	Refused
)

// String returns the outcome's lower-case name (used as a metric label).
func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	case Gap:
		return "gap"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// ApplyResult is the result of applying one batch.
type ApplyResult struct {
	Outcome Outcome
	// Next is the sequence number the engine expects next after this call.
	Next uint64
}

// EngineState is an engine's standing in the index.
type EngineState uint8

const (
	// EngineUnknown: no batch or engine operation has mentioned the engine (or it
	// was dropped). Its first batch is accepted at any Seq.
	EngineUnknown EngineState = iota
	// EngineLive: batches applied in order; its entries are matched.
	EngineLive
	// EngineBehind: a gap was seen; entries are hidden until the missing batches are
	// applied (Next passes GapEnd).
	EngineBehind
	// EngineStale: marked stale; entries hidden, batches refused until Resync.
	EngineStale
)

// String returns the state's lower-case name (used as a metric label).
func (s EngineState) String() string {
	switch s {
	case EngineUnknown:
		return "unknown"
	case EngineLive:
		return "live"
	case EngineBehind:
		return "behind"
	case EngineStale:
		return "stale"
	}
	return "invalid"
}

// EngineInfo describes one engine's sequence state.
type EngineInfo struct {
	State EngineState
	// Next is the next expected sequence number (meaningless for EngineUnknown).
	Next uint64
	// GapEnd is the highest sequence number seen beyond a gap (EngineBehind).
	GapEnd uint64
}

// EngineMatch is one engine's cached prefix of a request: Blocks consecutive blocks
// from block 0 are held in some tier, GPUBlocks of them on the GPU.
type EngineMatch struct {
	Engine    EngineID
	Blocks    int
	GPUBlocks int
}

// IndexStats are an index's counters. Counters are cumulative since the index (for
// Redis: the key space) was created.
type IndexStats struct {
	// Keys is the number of block keys held. Memory: exact (keys whose entries all
	// belong to dropped engines count until swept). Redis: DBSIZE of the database
	// (meta keys included; give the index its own database).
	Keys int64
	// Entries is the number of (key, engine, tier) entries; -1 where unknown (Redis).
	Entries int64
	// Engines by state (unknown engines are not counted).
	Live, Behind, Stale int
	// Batches by outcome.
	Applied, Duplicates, Gaps, Refused uint64
	// Replayed counts batches applied while the engine was behind (replays that
	// closed or narrowed a gap).
	Replayed uint64
	// Events and blocks applied.
	Events, BlocksStored, BlocksRemoved, Clears uint64
	// Drops counts engines whose entries were discarded (DropEngine, and Resync when
	// it cannot continue); Resyncs counts Resync calls; MarkedStale counts MarkStale.
	Drops, Resyncs, MarkedStale uint64
	// Evictions counts keys evicted to stay within capacity (memory backend).
	Evictions uint64
}

// Index maps block hashes to the engines holding them, by tier. Implementations:
// MemoryIndex (NewMemoryIndex) and RedisIndex (NewRedisIndex). All methods are safe
// for concurrent use; batches of one engine must be applied by one caller in order
// (concurrent Apply calls for one engine are serialized, so an out-of-order arrival
// is a Gap, never a corruption).
//
// Staleness rule: an entry is matched only while its engine is EngineLive. An engine
// whose events were lost, reordered beyond the expected sequence number, or whose
// publisher restarted is hidden (Behind/Stale) or emptied (DropEngine, Resync), so
// the index never reports a block the engine is known to have lost.
type Index interface {
	// Apply applies one batch, all or nothing, in the engine's sequence order.
	// Errors: ErrInvalidBatch (nothing applied, nothing changed), ErrUnavailable,
	// ErrClosed.
	Apply(ctx context.Context, b Batch) (ApplyResult, error)
	// ApplyBatches applies batches in order (one round trip for Redis) and appends
	// one result per batch to dst. An invalid batch fails the whole call before any
	// is applied. If a batch fails later (ErrUnavailable, ErrTooManyEngines), dst
	// holds the results of the batches before it and the fate of the ones after it
	// is unknown (Redis may have run them): re-applying all of them is safe, since
	// duplicates are ignored.
	ApplyBatches(ctx context.Context, bs []Batch, dst []ApplyResult) ([]ApplyResult, error)
	// Match appends to dst, for every Live engine holding hashes[0], the length of
	// its run of consecutive hashes from hashes[0] (any tier) and how many of those
	// are on the GPU. hashes is a request's chain, block 0 first; at most
	// MaxMatchBlocks (ErrInvalidArgument beyond). Engines appear in no fixed order.
	Match(ctx context.Context, hashes []uint64, dst []EngineMatch) ([]EngineMatch, error)
	// DropEngine discards the engine's entries and sequence state; its next batch
	// starts afresh at any Seq. Dropping an unknown engine is a no-op.
	DropEngine(ctx context.Context, e EngineID) error
	// MarkStale hides the engine's entries and refuses its batches until Resync
	// (use when events were lost and it is not yet known whether they can be
	// replayed).
	MarkStale(ctx context.Context, e EngineID) error
	// Resync says the engine's next batch will be next. If next is the sequence
	// number the index already expects, the entries are kept (nothing was lost) and
	// the engine is Live again once any gap is closed; otherwise the entries are
	// discarded and the engine restarts empty and Live, expecting next. Use it after a
	// publisher restart (next = 0) or when replay cannot cover a gap.
	Resync(ctx context.Context, e EngineID, next uint64) error
	// Engine reports an engine's sequence state.
	Engine(ctx context.Context, e EngineID) (EngineInfo, error)
	// Stats returns the counters.
	Stats(ctx context.Context) (IndexStats, error)
	// Close releases resources (the Redis client if the index created it).
	Close() error
}

// MaxMatchBlocks is the most hashes one Match call accepts (8192 blocks is 128K
// tokens at block size 16).
const MaxMatchBlocks = 8192
