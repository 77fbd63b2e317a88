package main

import (
	"fmt"

	"github.com/pagedkv/pagedkv/attention"
	"github.com/pagedkv/pagedkv/paged"
)

// Engine serves the tiny model with continuous batching: package paged decides where
// every token's K/V lives, package attention stores it and reads it back through the
// block tables.
type Engine struct {
	M      *Model
	Mgr    *paged.Manager
	Cache  *attention.Cache
	Kernel *attention.Kernel
	// Seqs are the live sequences.
	Seqs map[paged.SeqID]*Seq
}

// Seq is one generated sequence as the engine sees it.
type Seq struct {
	ID     paged.SeqID
	Tokens []int32     // prompt + generated (all computed except the last)
	Logits [][]float32 // Logits[i] predicted Tokens[PromptLen+i]
	Prompt int
	Cached int // prompt tokens taken from the prefix cache
}

// NewEngine sets up a manager and a cache of numBlocks blocks.
func NewEngine(m *Model, blockSize, numBlocks int, dt attention.DType) (*Engine, error) {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = numBlocks, blockSize
	mgr, err := paged.New(cfg)
	if err != nil {
		return nil, err
	}
	c, err := attention.NewCache(m.CacheConfig(blockSize, numBlocks, dt))
	if err != nil {
		return nil, err
	}
	return &Engine{M: m, Mgr: mgr, Cache: c, Kernel: attention.NewKernel(2), Seqs: map[paged.SeqID]*Seq{}}, nil
}

// Close releases the kernel's workers.
func (e *Engine) Close() { e.Kernel.Close() }

func (e *Engine) copyBlocks(copies []paged.BlockCopy) error {
	cc := make([]attention.BlockCopy, len(copies))
	for i, c := range copies {
		cc[i] = attention.BlockCopy{Src: c.Src, Dst: c.Dst}
	}
	return e.Cache.CopyBlocks(cc)
}

// run computes tokens of one sequence at positions [start, start+len(tokens)) whose
// slots are reserved: writes their K/V and attends causally (Prefill kernel).
func (e *Engine) run(id paged.SeqID, tokens []int32, start int) ([][]float32, error) {
	slots, err := e.Mgr.SlotMapping(id, start, start+len(tokens), nil)
	if err != nil {
		return nil, err
	}
	table, err := e.Mgr.BlockTable(id, nil)
	if err != nil {
		return nil, err
	}
	pos := make([]int, len(tokens))
	for i := range pos {
		pos[i] = start + i
	}
	var kerr error
	logits := e.M.forward(tokens, pos, func(l int, q, k, v [][]float32) [][]float32 {
		if err := e.Cache.Write(l, slots, flat(k), flat(v)); err != nil {
			kerr = err
		}
		out := make([]float32, len(q)*e.M.QHeads*e.M.HeadDim)
		if err := e.Kernel.Prefill(e.Cache, l, e.M.Params(), flat(q), table, start, len(tokens), out); err != nil {
			kerr = err
		}
		return split(out, len(q))
	})
	return logits, kerr
}

// Add admits a prompt: it claims cached prefix blocks, computes the rest, and samples
// the first token.
func (e *Engine) Add(prompt []int32) (*Seq, error) {
	id, err := e.Mgr.Add(prompt, paged.SeqOptions{})
	if err != nil {
		return nil, err
	}
	cached, _ := e.Mgr.CachedPrefix(id)
	res, err := e.Mgr.Reserve(id, len(prompt)-cached, 0, nil)
	if err != nil {
		return nil, err
	}
	if err := e.copyBlocks(res.Copies); err != nil {
		return nil, err
	}
	logits, err := e.run(id, prompt[res.Start:], res.Start)
	if err != nil {
		return nil, err
	}
	if err := e.Mgr.MarkComputed(id, len(prompt)-res.Start); err != nil {
		return nil, err
	}
	s := &Seq{ID: id, Tokens: append([]int32(nil), prompt...), Prompt: len(prompt), Cached: res.Claimed}
	last := logits[len(logits)-1]
	s.Logits = append(s.Logits, last)
	s.Tokens = append(s.Tokens, Argmax(last))
	e.Seqs[id] = s
	return s, nil
}

// Step decodes one token for each of seqs in one batch (Decode kernel).
func (e *Engine) Step(seqs []*Seq) error {
	ids := make([]paged.SeqID, len(seqs))
	last := make([]int32, len(seqs))
	for i, s := range seqs {
		ids[i], last[i] = s.ID, s.Tokens[len(s.Tokens)-1]
	}
	slots := make([]int64, len(seqs))
	copies, err := e.Mgr.DecodeStep(ids, last, 0, slots, nil)
	if err != nil {
		return err
	}
	if err := e.copyBlocks(copies); err != nil {
		return err
	}
	tables, err := e.Mgr.BlockTables(ids, nil)
	if err != nil {
		return err
	}
	ctx := make([]int, len(seqs))
	pos := make([]int, len(seqs))
	for i, s := range seqs {
		ctx[i], pos[i] = len(s.Tokens), len(s.Tokens)-1
	}
	var kerr error
	logits := e.M.forward(last, pos, func(l int, q, k, v [][]float32) [][]float32 {
		if err := e.Cache.Write(l, slots, flat(k), flat(v)); err != nil {
			kerr = err
		}
		out := make([]float32, len(q)*e.M.QHeads*e.M.HeadDim)
		if err := e.Kernel.Decode(e.Cache, l, e.M.Params(), flat(q), tables, ctx, out); err != nil {
			kerr = err
		}
		return split(out, len(q))
	})
	if kerr != nil {
		return kerr
	}
	if err := e.Mgr.MarkComputedBatch(ids, 1); err != nil {
		return err
	}
	for i, s := range seqs {
		s.Logits = append(s.Logits, logits[i])
		s.Tokens = append(s.Tokens, Argmax(logits[i]))
	}
	return nil
}

// Fork copies a sequence (parallel sampling): the child shares every block and
// replaces the parent's last sampled token by another choice, so they diverge.
func (e *Engine) Fork(parent *Seq, token int32) (*Seq, error) {
	id, err := e.Mgr.Fork(parent.ID)
	if err != nil {
		return nil, err
	}
	c := &Seq{ID: id, Tokens: append([]int32(nil), parent.Tokens...), Prompt: parent.Prompt,
		Logits: append([][]float32(nil), parent.Logits...)}
	c.Tokens[len(c.Tokens)-1] = token
	e.Seqs[id] = c
	return c, nil
}

// Speculate proposes drafts after s's last token, verifies them with one forward pass
// over [last, drafts...], keeps the accepted prefix plus the model's own next token,
// and rolls back the rejected drafts' KV. It returns how many drafts were accepted.
func (e *Engine) Speculate(s *Seq, drafts []int32) (int, error) {
	start := len(s.Tokens) - 1 // the last sampled token is not appended or computed yet
	chunk := append([]int32{s.Tokens[start]}, drafts...)
	if err := e.Mgr.Append(s.ID, chunk...); err != nil {
		return 0, err
	}
	res, err := e.Mgr.Reserve(s.ID, 1+len(drafts), 0, nil)
	if err != nil {
		return 0, err
	}
	if res.Start != start {
		return 0, fmt.Errorf("reserved from %d, want %d", res.Start, start)
	}
	if err := e.copyBlocks(res.Copies); err != nil {
		return 0, err
	}
	logits, err := e.run(s.ID, chunk, start)
	if err != nil {
		return 0, err
	}
	if err := e.Mgr.MarkComputed(s.ID, len(chunk)); err != nil {
		return 0, err
	}
	accepted := 0
	for accepted < len(drafts) && Argmax(logits[accepted]) == drafts[accepted] {
		accepted++
	}
	if err := e.Mgr.Rollback(s.ID, len(drafts)-accepted); err != nil {
		return 0, err
	}
	for i := 0; i <= accepted; i++ {
		s.Logits = append(s.Logits, logits[i])
		if i < accepted {
			s.Tokens = append(s.Tokens, drafts[i])
		} else {
			s.Tokens = append(s.Tokens, Argmax(logits[i]))
		}
	}
	// The manager holds computed tokens up to the last accepted draft; the bonus token
	// is appended at the next step, as every sampled token is.
	return accepted, nil
}

// Free releases a sequence.
func (e *Engine) Free(s *Seq) error {
	delete(e.Seqs, s.ID)
	return e.Mgr.Free(s.ID)
}

func flat(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func split(v []float32, n int) [][]float32 {
	w := len(v) / n
	out := make([][]float32, n)
	for i := range out {
		out[i] = v[i*w : (i+1)*w]
	}
	return out
}
