package cluster

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
)

// ErrTooManyEngines reports that a new engine would exceed MemoryConfig.MaxEngines.
var ErrTooManyEngines = fmt.Errorf("%w: too many engines", ErrInvalidArgument)

// MemoryConfig configures a MemoryIndex. The zero value means every default.
type MemoryConfig struct {
	// MaxKeys bounds the block keys held; beyond it the least recently stored key is
	// evicted (a key matched since gets a second chance). Default 1<<20.
	MaxKeys int
	// Shards is the number of independently locked shards, a power of two.
	// Default 64.
	Shards int
	// MaxEngines bounds the engines known at once (at most 65536). Default 1024.
	MaxEngines int
	// MaxBatchHashes bounds the hashes in one batch. Default DefaultMaxBatchHashes.
	MaxBatchHashes int
	// SweepPerApply is how many node slots each Apply visits to reclaim entries of
	// dropped or cleared engines (only while such entries may exist). Default 64.
	// Until a sweep pass has visited every node, matching takes its exact but slower
	// entry path (see Match).
	SweepPerApply int
}

// DefaultMemoryConfig returns the defaults spelled out.
func DefaultMemoryConfig() MemoryConfig {
	return MemoryConfig{MaxKeys: 1 << 20, Shards: 64, MaxEngines: 1024, MaxBatchHashes: DefaultMaxBatchHashes, SweepPerApply: 64}
}

func (c *MemoryConfig) fill() error {
	d := DefaultMemoryConfig()
	if c.MaxKeys == 0 {
		c.MaxKeys = d.MaxKeys
	}
	if c.Shards == 0 {
		c.Shards = d.Shards
	}
	if c.MaxEngines == 0 {
		c.MaxEngines = d.MaxEngines
	}
	if c.MaxBatchHashes == 0 {
		c.MaxBatchHashes = d.MaxBatchHashes
	}
	if c.SweepPerApply == 0 {
		c.SweepPerApply = d.SweepPerApply
	}
	switch {
	case c.MaxKeys < 0 || uint64(c.MaxKeys) > 1<<40:
		return fmt.Errorf("%w: MaxKeys %d", ErrInvalidConfig, c.MaxKeys)
	case c.Shards < 0 || c.Shards > 1<<16 || bits.OnesCount(uint(c.Shards)) != 1:
		return fmt.Errorf("%w: Shards %d is not a power of two in [1, 65536]", ErrInvalidConfig, c.Shards)
	case c.MaxEngines < 0 || c.MaxEngines > 1<<16:
		return fmt.Errorf("%w: MaxEngines %d not in [1, 65536]", ErrInvalidConfig, c.MaxEngines)
	case c.MaxBatchHashes < 0:
		return fmt.Errorf("%w: MaxBatchHashes %d", ErrInvalidConfig, c.MaxBatchHashes)
	case c.SweepPerApply < 0:
		return fmt.Errorf("%w: SweepPerApply %d", ErrInvalidConfig, c.SweepPerApply)
	}
	return nil
}

// slotState is read without locks by Match. v packs epoch<<1 | visible; the epoch
// grows whenever the slot's entries die (drop, clear, resync, reuse by another
// engine), so an entry is alive iff its epoch equals the slot's.
type slotState struct {
	v  atomic.Uint64
	id atomic.Pointer[EngineID] // set before the slot becomes visible
}

func (s *slotState) epoch() uint32 { return uint32(s.v.Load() >> 1) }

// memEngine is one engine's sequence state. mu serializes every operation on the
// engine; dropped is set (under mu) when the engine leaves the map, so a caller that
// looked it up before must look again.
type memEngine struct {
	mu      sync.Mutex
	id      EngineID
	slot    uint16
	info    EngineInfo
	fresh   bool // accepts any first Seq
	dropped bool
	// holds: entries may exist at the slot's current epoch (set by a store, cleared
	// by an epoch bump). A bump without them kills nothing and owes no sweep.
	holds bool
}

// MemoryIndex is the in-memory Index: sharded, bounded, LRU over keys. Matching takes
// only shard read locks and reads engine state atomically; while at most 64 engine
// slots were ever used and no dead entry is left it reads one 32-byte table slot per
// block (see memmatch.go). About 128 bytes per key held by one engine (a 32-byte
// table slot at ≤ 3/4 load and a 64-byte node), 16 more per further engine beyond
// two. See Index.
type MemoryIndex struct {
	cfg    MemoryConfig
	shards []shard
	mask   uint64
	slots  []slotState

	engMu     sync.RWMutex
	engines   map[EngineID]*memEngine // guarded by engMu
	freeSlots []uint16                // guarded by engMu
	nextSlot  int                     // guarded by engMu

	sweepShard atomic.Uint64
	// dirty counts the shards with an open sweep pass. Zero means no dead entry is
	// left anywhere: it is raised before an epoch bump is published, and lowered
	// only after a shard's pass has visited every node.
	dirty     atomic.Int64
	slotsUsed atomic.Int32 // nextSlot, readable without engMu
	// entryPathOnly makes Match take the entry path always (tests compare paths).
	entryPathOnly bool
	closed        atomic.Bool
	sink          atomic.Uint64 // keeps walkPrefetched's touches alive
	c             counters
	scratch       sync.Pool
}

type counters struct {
	applied, duplicates, gaps, refused, replayed atomic.Uint64
	events, stored, removed, clears              atomic.Uint64
	drops, resyncs, stale                        atomic.Uint64
}

var _ Index = (*MemoryIndex)(nil)

// NewMemoryIndex validates cfg and returns an empty index.
func NewMemoryIndex(cfg MemoryConfig) (*MemoryIndex, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	x := &MemoryIndex{cfg: cfg, shards: make([]shard, cfg.Shards), mask: uint64(cfg.Shards - 1),
		slots: make([]slotState, cfg.MaxEngines), engines: make(map[EngineID]*memEngine)}
	per := max(1, (cfg.MaxKeys+cfg.Shards-1)/cfg.Shards)
	for i := range x.shards {
		x.shards[i].init(per)
	}
	x.scratch.New = func() any { return newMatchScratch(cfg.MaxEngines, cfg.Shards) }
	return x, nil
}

// shardIndex picks a shard from the hash's high bits (the table uses the low ones).
func (x *MemoryIndex) shardIndex(h uint64) int { return int((h * 0x9E3779B97F4A7C15) >> 32 & x.mask) }

// shardOf returns the shard of h.
func (x *MemoryIndex) shardOf(h uint64) *shard { return &x.shards[x.shardIndex(h)] }

func (x *MemoryIndex) lookupEngine(id EngineID) *memEngine {
	x.engMu.RLock()
	e := x.engines[id]
	x.engMu.RUnlock()
	return e
}

// lockEngine returns the engine locked, registering it when create is set (nil, nil
// when it is unknown and create is not set).
func (x *MemoryIndex) lockEngine(id EngineID, create bool) (*memEngine, error) {
	for {
		e := x.lookupEngine(id)
		if e == nil {
			if !create {
				return nil, nil
			}
			var err error
			if e, err = x.register(id); err != nil {
				return nil, err
			}
		}
		e.mu.Lock()
		if !e.dropped {
			return e, nil
		}
		e.mu.Unlock()
	}
}

func (x *MemoryIndex) register(id EngineID) (*memEngine, error) {
	x.engMu.Lock()
	defer x.engMu.Unlock()
	if e := x.engines[id]; e != nil {
		return e, nil
	}
	var slot uint16
	switch {
	case len(x.freeSlots) > 0:
		slot = x.freeSlots[len(x.freeSlots)-1]
		x.freeSlots = x.freeSlots[:len(x.freeSlots)-1]
	case x.nextSlot < len(x.slots):
		slot = uint16(x.nextSlot)
		x.nextSlot++
	default:
		return nil, fmt.Errorf("%w: engine %s would exceed %d", ErrTooManyEngines, id, len(x.slots))
	}
	e := &memEngine{id: id, slot: slot, fresh: true}
	x.slots[slot].id.Store(&e.id)
	x.slotsUsed.Store(int32(x.nextSlot))
	x.engines[id] = e
	return e, nil
}

// setSlot publishes the engine's visibility (Live ⇔ visible) and, if bump, a new
// epoch that kills its current entries (owing a sweep only if it may have some).
func (x *MemoryIndex) setSlot(e *memEngine, bump bool) {
	s := &x.slots[e.slot]
	ep := s.v.Load() >> 1
	if bump {
		ep++
		if e.holds {
			x.oweSweep()
		}
		e.holds = false
	}
	vis := uint64(0)
	if e.info.State == EngineLive {
		vis = 1
	}
	s.v.Store(ep<<1 | vis)
}

// oweSweep opens a sweep pass on every shard (before the epoch bump that makes
// entries die is published), so the entries that die are reclaimed and the index
// knows when none is left.
func (x *MemoryIndex) oweSweep() {
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.Lock()
		if s.openPass() {
			x.dirty.Add(1)
		}
		s.mu.Unlock()
	}
}

// Apply implements Index.
func (x *MemoryIndex) Apply(_ context.Context, b Batch) (ApplyResult, error) {
	if x.closed.Load() {
		return ApplyResult{}, ErrClosed
	}
	if err := validateBatch(&b, x.cfg.MaxBatchHashes); err != nil {
		return ApplyResult{}, err
	}
	return x.apply(&b)
}

// apply applies a validated batch.
func (x *MemoryIndex) apply(b *Batch) (ApplyResult, error) {
	e, err := x.lockEngine(b.Engine, true)
	if err != nil {
		return ApplyResult{}, err
	}
	out, st := decide(e.info, e.fresh, b.Seq)
	switch out {
	case Duplicate:
		x.c.duplicates.Add(1)
	case Gap:
		x.c.gaps.Add(1)
	case Refused:
		x.c.refused.Add(1)
	case Applied:
		if e.info.State == EngineBehind {
			x.c.replayed.Add(1)
		}
		x.c.applied.Add(1)
		x.applyEvents(e, b.Events)
	}
	e.info, e.fresh = st, e.fresh && out != Applied
	x.setSlot(e, false)
	e.mu.Unlock()
	if out == Applied {
		x.sweepSome()
	}
	return ApplyResult{Outcome: out, Next: st.Next}, nil
}

// applyEvents applies validated events of locked engine e.
func (x *MemoryIndex) applyEvents(e *memEngine, evs []Event) {
	for i := range evs {
		ev := &evs[i]
		epoch := x.slots[e.slot].epoch()
		switch ev.Kind {
		case Stored:
			e.holds = e.holds || len(ev.Hashes) > 0
			for _, h := range ev.Hashes {
				s := x.shardOf(h)
				s.mu.Lock()
				s.store(h, e.slot, ev.Tier, epoch)
				s.mu.Unlock()
			}
			x.c.stored.Add(uint64(len(ev.Hashes)))
		case Removed:
			for _, h := range ev.Hashes {
				s := x.shardOf(h)
				s.mu.Lock()
				s.remove(h, e.slot, ev.Tier, epoch)
				s.mu.Unlock()
			}
			x.c.removed.Add(uint64(len(ev.Hashes)))
		case Cleared:
			x.setSlot(e, true)
			x.c.clears.Add(1)
		}
	}
	x.c.events.Add(uint64(len(evs)))
}

// sweepSome reclaims dead entries from a few node slots while any may exist.
func (x *MemoryIndex) sweepSome() {
	if x.dirty.Load() <= 0 {
		return
	}
	start := x.sweepShard.Add(1)
	for k := range uint64(len(x.shards)) {
		s := &x.shards[(start+k)&x.mask]
		if !s.pass.Load() {
			continue
		}
		s.mu.Lock()
		if s.pass.Load() && s.sweep(x.cfg.SweepPerApply, x.isDead) {
			x.dirty.Add(-1)
		}
		s.mu.Unlock()
		return
	}
}

func (x *MemoryIndex) isDead(e entry) bool { return e.epoch != x.slots[e.eng].epoch() }

// ApplyBatches implements Index.
func (x *MemoryIndex) ApplyBatches(_ context.Context, bs []Batch, dst []ApplyResult) ([]ApplyResult, error) {
	for i := range bs {
		if err := validateBatch(&bs[i], x.cfg.MaxBatchHashes); err != nil {
			return dst, fmt.Errorf("batch %d: %w", i, err)
		}
	}
	if x.closed.Load() {
		return dst, ErrClosed
	}
	for i := range bs {
		r, err := x.apply(&bs[i])
		if err != nil {
			return dst, fmt.Errorf("batch %d: %w", i, err)
		}
		dst = append(dst, r)
	}
	return dst, nil
}
