package cluster

import "fmt"

// This file builds a Router's policy from its RouterConfig.

func checkRouterConfig(cfg *RouterConfig) error {
	if len(cfg.Engines) == 0 {
		return fmt.Errorf("%w: router needs engines", ErrInvalidConfig)
	}
	seen := make(map[EngineID]bool, len(cfg.Engines))
	for _, e := range cfg.Engines {
		if err := ValidateEngineID(e); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		if seen[e] {
			return fmt.Errorf("%w: engine %s listed twice", ErrInvalidConfig, e)
		}
		seen[e] = true
	}
	switch {
	case cfg.OverlapWeight < 0, cfg.IndexTimeout < 0, cfg.RetryAfter < 0, cfg.Hash.BlockSize < 0, cfg.ReplicaBlocks < 0:
		return fmt.Errorf("%w: negative OverlapWeight, IndexTimeout, RetryAfter, block size or ReplicaBlocks", ErrInvalidConfig)
	}
	if _, err := ParsePolicy(string(cfg.Policy)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return cfg.Weights.fill()
}

func (r *Router) buildPolicy() error {
	cfg := &r.cfg
	r.sel = CostSelector{OverlapWeight: cfg.OverlapWeight}
	switch cfg.Policy {
	case PolicyPrecise:
		if cfg.Index == nil && cfg.Predictor == nil {
			return fmt.Errorf("%w: the precise policy needs an Index", ErrInvalidConfig)
		}
		if cfg.Index != nil {
			s, err := NewScorer(ScorerConfig{Index: cfg.Index, Hash: cfg.Hash, Weights: cfg.Weights, FirstChunk: cfg.FirstChunk})
			if err != nil {
				return err
			}
			r.pred = NewIndexPredictor(s, r.engines)
		}
	case PolicyApproximate:
		if cfg.Predictor == nil {
			p, err := NewReplicaPredictor(ReplicaConfig{Engines: len(r.engines), Blocks: cfg.ReplicaBlocks,
				BlockSize: cfg.Hash.BlockSize, Weights: cfg.Weights})
			if err != nil {
				return err
			}
			r.pred = p
		}
	case PolicyRandom:
		r.sel = NewRandomSelector(cfg.Seed)
	case PolicyRoundRobin:
		r.sel = &RoundRobinSelector{}
	}
	if cfg.Predictor != nil {
		r.pred = cfg.Predictor
	}
	if cfg.Selector != nil {
		r.sel = cfg.Selector
	}
	return nil
}

// isLocal reports whether p is known never to block (in-process index or replicas).
func isLocal(p Predictor) bool {
	switch p := p.(type) {
	case *IndexPredictor:
		_, mem := p.scorer.idx.(*MemoryIndex)
		return mem
	case *ReplicaPredictor:
		return true
	}
	return false
}
