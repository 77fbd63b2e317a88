package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
)

// ReplicaConfig configures a ReplicaPredictor.
type ReplicaConfig struct {
	// Engines is the number of engines (required, > 0).
	Engines int
	// Blocks is each engine's KV cache size in blocks (required, > 0): the replica
	// evicts when the engine would.
	Blocks int
	// BlockSize is the engines' block size. Default 16.
	BlockSize int
	// Weights value the predicted hits (all on GPU). Zero means DefaultTierWeights.
	Weights TierWeights
}

// ReplicaPredictor is the approximate policy's predictor: it keeps one real
// paged.Manager per engine and replays on it what the router sent there — each
// request's prompt is added, reserved and marked computed when it starts (its blocks
// become cached and stay pinned while it runs), its output appended when it finishes,
// then it is freed (its blocks stay cached until LRU eviction reuses them). The
// replica's cache is thus the engine's cache as far as the router can know it without
// events; it drifts where the engine evicts differently (other traffic, preemption,
// a different cache size).
//
// The replica hashes with its own (pagedkv) scheme: its hashes never leave it. A
// prediction hashes the prompt once and asks every replica with the same hashes
// (paged.Manager.LookupChain). It is safe for concurrent use (each Manager has its
// own lock).
//
// Under a Router, AddEngine appends an empty replica configured like the others and
// RemoveEngine drops the engine's replica: there is always one replica per present
// engine, in the router's engine order.
type ReplicaPredictor struct {
	// ms holds one replica per engine, in candidate order. It is replaced, never
	// changed, when a Router adds or removes an engine (copy on write).
	ms     atomic.Pointer[[]*paged.Manager]
	bs     int
	blocks int
	w      TierWeights
	scheme *prefix.Scheme // every replica's (they share one configuration)
	chains sync.Pool
}

var (
	_ Predictor = (*ReplicaPredictor)(nil)
	_ Tracker   = (*ReplicaPredictor)(nil)
)

// NewReplicaPredictor validates cfg and returns a predictor with empty caches.
func NewReplicaPredictor(cfg ReplicaConfig) (*ReplicaPredictor, error) {
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 16
	}
	if cfg.Engines <= 0 || cfg.Blocks <= 0 || cfg.BlockSize < 0 {
		return nil, fmt.Errorf("%w: replica needs engines (%d) and blocks (%d) > 0, block size %d",
			ErrInvalidConfig, cfg.Engines, cfg.Blocks, cfg.BlockSize)
	}
	if err := cfg.Weights.fill(); err != nil {
		return nil, err
	}
	p := &ReplicaPredictor{bs: cfg.BlockSize, blocks: cfg.Blocks, w: cfg.Weights}
	ms := make([]*paged.Manager, 0, cfg.Engines)
	for range cfg.Engines {
		m, err := p.newReplica()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		ms = append(ms, m)
	}
	p.ms.Store(&ms)
	p.scheme = ms[0].HashScheme()
	p.chains.New = func() any {
		c := p.scheme.NewChain(prefix.Extras{})
		return &c
	}
	return p, nil
}

// newReplica returns an empty replica of one engine's cache.
func (p *ReplicaPredictor) newReplica() (*paged.Manager, error) {
	mc := paged.DefaultConfig()
	// No watermark: the engine has already admitted what Started records.
	mc.NumBlocks, mc.BlockSize, mc.Watermark, mc.DisableWatermark = p.blocks, p.bs, 0, true
	return paged.New(mc)
}

// Manager returns the replica of the engine at position i (for inspection: Stats,
// LookupPrompt), or nil when there is none.
func (p *ReplicaPredictor) Manager(i int) *paged.Manager {
	ms := *p.ms.Load()
	if i < 0 || i >= len(ms) {
		return nil
	}
	return ms[i]
}

// Engines returns the number of replicas (one per engine).
func (p *ReplicaPredictor) Engines() int { return len(*p.ms.Load()) }

func (p *ReplicaPredictor) addEngine(EngineID) error {
	m, err := p.newReplica()
	if err != nil {
		return fmt.Errorf("%w: new replica: %w", ErrInvalidConfig, err)
	}
	old := *p.ms.Load()
	ms := append(slices.Clip(old), m) // a new array: Predict may be reading old
	p.ms.Store(&ms)
	return nil
}

func (p *ReplicaPredictor) removeEngine(i int) {
	old := *p.ms.Load()
	ms := slices.Concat(old[:i], old[i+1:])
	p.ms.Store(&ms)
}

func (p *ReplicaPredictor) engineCount() int { return p.Engines() }

func (p *ReplicaPredictor) checkEngines([]EngineID) error { return nil } // replicas carry no names

func seqOptions(r *Request) paged.SeqOptions {
	return paged.SeqOptions{Adapter: r.Extras.Adapter, CacheSalt: r.Extras.CacheSalt, MM: r.Extras.MM}
}

// Predict implements Predictor: each replica's cached prefix of the prompt. The
// prompt is hashed once, with the extra keys the replicas' sequences carry.
func (p *ReplicaPredictor) Predict(_ context.Context, req *Request, cands []Candidate) error {
	n := len(req.Tokens)
	for i, it := range req.Extras.MM {
		if it.Offset > n || it.Length > n-it.Offset {
			return fmt.Errorf("%w: multimodal item %d at [%d, +%d) is not inside the %d-token prompt",
				ErrInvalidArgument, i, it.Offset, it.Length, n)
		}
	}
	c := p.chains.Get().(*prefix.Chain)
	defer func() {
		c.SetExtras(p.scheme, prefix.Extras{}) // drop references to caller data
		p.chains.Put(c)
	}()
	opts := seqOptions(req)
	c.SetExtras(p.scheme, prefix.Extras{Adapter: opts.Adapter, CacheSalt: opts.CacheSalt, MM: opts.MM})
	if n > 0 {
		c.Extend(req.Tokens[:min((n-1)/p.bs, p.blocks)*p.bs])
	}
	ms := *p.ms.Load()
	if len(cands) > len(ms) {
		return fmt.Errorf("%w: %d candidates for %d replicas", ErrInvalidArgument, len(cands), len(ms))
	}
	for i := range cands {
		hit, err := ms[i].LookupChain(c, req.Tokens)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
		cd := &cands[i]
		cd.HitBlocks, cd.GPUHitBlocks = hit/p.bs, hit/p.bs
		cd.WeightedHit = p.w.Weigh(cd.HitBlocks, cd.GPUHitBlocks)
	}
	return nil
}

// Started implements Tracker: the prompt is cached on engine's replica and pinned
// until Finished. If the replica has no room (the engine would queue or preempt),
// nothing is recorded and the handle is 0.
func (p *ReplicaPredictor) Started(engine int, req *Request) uint64 {
	m := p.Manager(engine)
	if m == nil {
		return 0
	}
	id, err := m.Add(req.Tokens, seqOptions(req))
	if err != nil {
		return 0
	}
	adm, err := m.Admit(id, len(req.Tokens), 0, nil)
	if err == nil && adm.Admission == paged.AdmitNow {
		err = m.MarkComputed(id, adm.N)
	}
	if err != nil || adm.Admission != paged.AdmitNow {
		_ = m.Free(id)
		return 0
	}
	return uint64(id)
}

// Finished implements Tracker: output tokens are cached too, then the request's
// blocks are released to the replica's LRU.
func (p *ReplicaPredictor) Finished(engine int, handle uint64, output []int32) {
	if handle == 0 {
		return
	}
	m, id := p.Manager(engine), paged.SeqID(handle)
	if m == nil {
		return
	}
	if len(output) > 0 && m.Append(id, output...) == nil {
		if _, err := m.Reserve(id, len(output), 0, nil); err == nil {
			_ = m.MarkComputed(id, len(output))
		}
	}
	_ = m.Free(id)
}
