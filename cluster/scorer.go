package cluster

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/pagedkv/pagedkv/prefix"
)

// TierWeights value a cached block by where it lives: a GPU hit saves the whole
// prefill of the block, a CPU hit saves it minus a host-to-device copy. The zero
// TierWeights means DefaultTierWeights.
type TierWeights struct {
	GPU, CPU float64
}

// DefaultTierWeights returns GPU 1.0, CPU 0.8 (llm-d's defaults).
func DefaultTierWeights() TierWeights { return TierWeights{GPU: 1, CPU: 0.8} }

func (w *TierWeights) fill() error {
	if *w == (TierWeights{}) {
		*w = DefaultTierWeights()
	}
	if !(w.GPU >= 0 && w.CPU >= 0) || math.IsInf(w.GPU, 0) || math.IsInf(w.CPU, 0) {
		return fmt.Errorf("%w: tier weights %+v must be finite and ≥ 0", ErrInvalidConfig, *w)
	}
	return nil
}

// Weigh returns the hit-equivalent blocks of a match: GPU blocks at the GPU weight,
// the rest at the CPU weight.
func (w TierWeights) Weigh(blocks, gpuBlocks int) float64 {
	return float64(gpuBlocks)*w.GPU + float64(blocks-gpuBlocks)*w.CPU
}

// HashConfig says how a router hashes request tokens: it must match the engines'
// hashing (block size, hasher, seed), or no prefix will ever match. The zero value
// means block size 16, prefix.XXH3{} (prefix's default, as paged.Manager's), seed 0;
// vLLM-compatible hashers plug in as a prefix.Hasher (prefix.VLLM).
type HashConfig struct {
	BlockSize int
	Hasher    prefix.Hasher
	Seed      uint64
}

func (h HashConfig) scheme() (*prefix.Scheme, error) {
	if h.BlockSize == 0 {
		h.BlockSize = 16
	}
	s, err := prefix.New(prefix.Config{BlockSize: h.BlockSize, Hasher: h.Hasher, Seed: h.Seed})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return s, nil
}

// ScorerConfig configures a Scorer.
type ScorerConfig struct {
	// Index is the cluster index to query (required).
	Index Index
	// Hash is how request tokens are hashed (see HashConfig).
	Hash HashConfig
	// Weights value hits by tier. Zero means DefaultTierWeights.
	Weights TierWeights
	// FirstChunk is how many blocks the first index query covers; each later query
	// covers twice the previous one, and runs only while some engine's prefix
	// reaches the end of the last chunk, so an unrelated prompt costs one short
	// query and little hashing. Default 32 for a MemoryIndex, and MaxMatchBlocks
	// (one query) for other indexes, where a round trip costs more than hashing.
	FirstChunk int
}

// Scorer finds, for a request's tokens, each engine's longest cached prefix in the
// index and weighs it by tier. It is safe for concurrent use.
type Scorer struct {
	idx        Index
	scheme     *prefix.Scheme
	w          TierWeights
	firstChunk int
	pool       sync.Pool
}

// PrefixScore is one engine's cached prefix of a request.
type PrefixScore struct {
	Engine EngineID
	// Blocks consecutive blocks from block 0 are cached, GPUBlocks of them on GPU.
	Blocks, GPUBlocks int
	// Score is Weights.Weigh(Blocks, GPUBlocks).
	Score float64
}

type scorerScratch struct {
	chain   prefix.Chain
	hashes  []uint64
	matches []EngineMatch
}

// NewScorer validates cfg and returns a Scorer.
func NewScorer(cfg ScorerConfig) (*Scorer, error) {
	if cfg.Index == nil {
		return nil, fmt.Errorf("%w: scorer needs an Index", ErrInvalidConfig)
	}
	if err := cfg.Weights.fill(); err != nil {
		return nil, err
	}
	if cfg.FirstChunk == 0 {
		cfg.FirstChunk = 32
		if _, mem := cfg.Index.(*MemoryIndex); !mem {
			// A remote index stops at the first miss on its side; a round trip
			// costs more than hashing the whole prompt.
			cfg.FirstChunk = MaxMatchBlocks
		}
	}
	if cfg.FirstChunk < 0 {
		return nil, fmt.Errorf("%w: FirstChunk %d", ErrInvalidConfig, cfg.FirstChunk)
	}
	sch, err := cfg.Hash.scheme()
	if err != nil {
		return nil, err
	}
	s := &Scorer{idx: cfg.Index, scheme: sch, w: cfg.Weights, firstChunk: cfg.FirstChunk}
	s.pool.New = func() any { return &scorerScratch{chain: sch.NewChain(prefix.Extras{})} }
	return s, nil
}

// BlockSize returns the tokens per block.
func (s *Scorer) BlockSize() int { return s.scheme.BlockSize() }

// MaxHitBlocks is the most blocks of an n-token prompt that can be hits: the last
// token is always computed (its logits are needed), as in vLLM.
func (s *Scorer) MaxHitBlocks(n int) int {
	if n <= 0 {
		return 0
	}
	return min((n-1)/s.scheme.BlockSize(), MaxMatchBlocks)
}

// Score appends to dst one PrefixScore per engine holding at least block 0 of
// tokens (with extras folded into the hashes as the engines fold them). Errors:
// ErrInvalidArgument for bad extras; the index's errors (ErrUnavailable) as they are.
func (s *Scorer) Score(ctx context.Context, tokens []int32, extras prefix.Extras, dst []PrefixScore) ([]PrefixScore, error) {
	if err := extras.Validate(); err != nil {
		return dst, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	total := s.MaxHitBlocks(len(tokens))
	if total == 0 {
		return dst, nil
	}
	sc := s.pool.Get().(*scorerScratch)
	defer func() {
		sc.chain.SetExtras(s.scheme, prefix.Extras{}) // drop references to caller data
		s.pool.Put(sc)
	}()
	sc.chain.SetExtras(s.scheme, extras)
	start := len(dst)
	var err error
	if x, ok := s.idx.(*MemoryIndex); ok {
		dst, err = s.scoreMemory(x, sc, tokens, total, dst)
	} else {
		dst, err = s.scoreRemote(ctx, sc, tokens, total, dst)
	}
	if err != nil {
		return dst[:start], err
	}
	for k := start; k < len(dst); k++ {
		dst[k].Score = s.w.Weigh(dst[k].Blocks, dst[k].GPUBlocks)
	}
	return dst, nil
}

// chunk hashes blocks [lo, hi) of tokens into sc.hashes.
func (s *Scorer) chunk(sc *scorerScratch, tokens []int32, lo, hi int) []uint64 {
	sc.chain.Extend(tokens[:hi*s.scheme.BlockSize()])
	sc.hashes = sc.hashes[:0]
	for i := lo; i < hi; i++ {
		sc.hashes = append(sc.hashes, uint64(sc.chain.Hash(i)))
	}
	return sc.hashes
}

// scoreMemory walks the in-memory index chunk by chunk in one match: each chunk
// continues the runs where the last one left them.
func (s *Scorer) scoreMemory(x *MemoryIndex, sc *scorerScratch, tokens []int32, total int, dst []PrefixScore) ([]PrefixScore, error) {
	if x.closed.Load() {
		return dst, ErrClosed
	}
	ms := x.beginChunkedMatch()
	lo, hi := 0, min(total, s.firstChunk)
	for {
		more := x.continueMatch(ms, s.chunk(sc, tokens, lo, hi))
		if !more || hi == total {
			break
		}
		lo, hi = hi, min(total, hi+2*(hi-lo))
	}
	sc.matches = x.endMatch(ms, sc.matches[:0])
	for _, m := range sc.matches {
		dst = append(dst, PrefixScore{Engine: m.Engine, Blocks: m.Blocks, GPUBlocks: m.GPUBlocks})
	}
	return dst, nil
}

// scoreRemote queries the index chunk by chunk, each query from the chunk's first
// block, and joins the runs.
func (s *Scorer) scoreRemote(ctx context.Context, sc *scorerScratch, tokens []int32, total int, dst []PrefixScore) ([]PrefixScore, error) {
	start := len(dst)
	lo, hi := 0, min(total, s.firstChunk)
	for {
		var err error
		if sc.matches, err = s.idx.Match(ctx, s.chunk(sc, tokens, lo, hi), sc.matches[:0]); err != nil {
			return dst, err
		}
		more := false
		if lo == 0 {
			for _, m := range sc.matches {
				dst = append(dst, PrefixScore{Engine: m.Engine, Blocks: m.Blocks, GPUBlocks: m.GPUBlocks})
				more = more || m.Blocks == hi
			}
		} else {
			for _, m := range sc.matches {
				for k := start; k < len(dst); k++ {
					if d := &dst[k]; d.Engine == m.Engine && d.Blocks == lo {
						d.Blocks += m.Blocks
						d.GPUBlocks += m.GPUBlocks
						more = more || d.Blocks == hi
					}
				}
			}
		}
		if !more || hi == total {
			return dst, nil
		}
		lo, hi = hi, min(total, hi+2*(hi-lo))
	}
}
