package main

import (
	"fmt"

	"github.com/pagedkv/pagedkv/attention"
	"github.com/pagedkv/pagedkv/paged"
)

// Engine serves the tiny model with continuous batching: package paged decides where
// every token's K/V lives, package attention stores it and reads it back through the
// block tables. With tensor parallelism (TP ranks) every rank has its own cache
// holding its shard of the KV heads and its own kernel; one block table (one
// manager) serves them all, as in vLLM, and each rank computes the attention of its
// query heads. A hybrid model (NewHybridModel) has one block table per KV-cache
// group: each layer writes and reads through its group's slots and table, and a
// sliding-window group's released blocks (paged.NullBlock) are never read. (The
// cache keeps every layer's arena over the whole pool, so a block id is valid in any
// layer; a GPU engine would share one page per block id between the groups.)
type Engine struct {
	M       *Model
	Mgr     *paged.Manager
	Caches  []*attention.Cache  // one per tensor-parallel rank
	Kernels []*attention.Kernel // one per rank
	// Seqs are the live sequences.
	Seqs map[paged.SeqID]*Seq
}

// EngineConfig is the engine's shape. A zero field means its default.
type EngineConfig struct {
	BlockSize int             // tokens per block (0: 4)
	NumBlocks int             // blocks per rank's cache (0: 64)
	DType     attention.DType // stored K/V (zero value: float32)
	TP        int             // tensor-parallel ranks (0: 1)
}

// Seq is one generated sequence as the engine sees it.
type Seq struct {
	ID     paged.SeqID
	Tokens []int32     // prompt + generated (all computed except the last)
	Logits [][]float32 // Logits[i] predicted Tokens[PromptLen+i]
	Prompt int
	Cached int // prompt tokens taken from the prefix cache
}

// NewEngine sets up a manager and one cache and kernel per rank.
func NewEngine(m *Model, ec EngineConfig) (*Engine, error) {
	if ec.BlockSize == 0 {
		ec.BlockSize = 4
	}
	if ec.NumBlocks == 0 {
		ec.NumBlocks = 64
	}
	if ec.TP == 0 {
		ec.TP = 1
	}
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = ec.NumBlocks, ec.BlockSize
	cfg.Groups = m.Groups(ec.DType.Size())
	mgr, err := paged.New(cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{M: m, Mgr: mgr, Seqs: map[paged.SeqID]*Seq{}}
	for rank := range ec.TP {
		c, err := attention.NewCache(m.CacheConfig(ec, rank))
		if err != nil {
			e.Close()
			return nil, err
		}
		e.Caches = append(e.Caches, c)
		e.Kernels = append(e.Kernels, attention.NewKernel(2))
	}
	return e, nil
}

// Close releases the kernels' workers.
func (e *Engine) Close() {
	for _, k := range e.Kernels {
		k.Close()
	}
}

func (e *Engine) copyBlocks(copies []paged.BlockCopy) error {
	for _, c := range e.Caches { // paged.BlockCopy and attention.BlockCopy are both block.Copy
		if err := c.CopyBlocks(copies); err != nil {
			return err
		}
	}
	return nil
}

// attend writes one layer's new K/V into every rank's cache (each rank its KV heads)
// and runs kern on every rank over its query heads, assembling the outputs
// ([token][QHeads×HeadDim]).
func (e *Engine) attend(l int, slots []int64, q, k, v [][]float32,
	kern func(c *attention.Cache, kn *attention.Kernel, q, out []float32) error) ([][]float32, error) {
	d := e.M.HeadDim
	out := make([][]float32, len(q))
	for i := range out {
		out[i] = make([]float32, e.M.QHeads*d)
	}
	for rank, c := range e.Caches {
		kf, kn := c.Config().KVHeadRange()
		qf, qn := c.Config().QHeadRange(e.M.QHeads)
		if err := c.Write(l, slots, flatRange(k, kf*d, (kf+kn)*d), flatRange(v, kf*d, (kf+kn)*d)); err != nil {
			return nil, err
		}
		o := make([]float32, len(q)*qn*d)
		if err := kern(c, e.Kernels[rank], flatRange(q, qf*d, (qf+qn)*d), o); err != nil {
			return nil, err
		}
		for i := range out {
			copy(out[i][qf*d:(qf+qn)*d], o[i*qn*d:(i+1)*qn*d])
		}
	}
	return out, nil
}

// run computes tokens of one sequence at positions [start, start+len(tokens)) whose
// slots are reserved: writes their K/V and attends causally (Prefill kernel).
func (e *Engine) run(id paged.SeqID, tokens []int32, start int) ([][]float32, error) {
	var slots [][]int64
	var tables [][]int32
	for g := range e.Mgr.NumGroups() {
		sl, err := e.Mgr.SlotMappingGroup(id, g, start, start+len(tokens), nil)
		if err != nil {
			return nil, err
		}
		tb, err := e.Mgr.BlockTableGroup(id, g, nil)
		if err != nil {
			return nil, err
		}
		slots, tables = append(slots, sl), append(tables, tb)
	}
	pos := make([]int, len(tokens))
	for i := range pos {
		pos[i] = start + i
	}
	var kerr error
	logits := e.M.forward(tokens, pos, func(l int, q, k, v [][]float32) [][]float32 {
		g := e.M.GroupOf(l)
		out, err := e.attend(l, slots[g], q, k, v, func(c *attention.Cache, kn *attention.Kernel, q, out []float32) error {
			return kn.Prefill(c, l, e.M.Params(l), q, tables[g], start, len(tokens), out)
		})
		if err != nil {
			kerr = err
			return q // any rows: the error ends the step
		}
		return out
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
	adm, err := e.Mgr.Admit(id, len(prompt), 0, nil)
	if err == nil && adm.Admission != paged.AdmitNow {
		err = fmt.Errorf("%w: admission %v", paged.ErrNoSpace, adm.Admission)
	}
	if err != nil {
		_ = e.Mgr.Free(id)
		return nil, err
	}
	res := adm.Reservation
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
	slots := make([][]int64, e.Mgr.NumGroups())
	slots[0] = make([]int64, len(seqs))
	copies, err := e.Mgr.DecodeStep(ids, last, 0, slots[0], nil)
	if err != nil {
		return err
	}
	if err := e.copyBlocks(copies); err != nil {
		return err
	}
	tables := make([][][]int32, e.Mgr.NumGroups())
	for g := range tables {
		if g > 0 {
			slots[g] = make([]int64, len(seqs))
			if err := e.Mgr.DecodeSlotsGroup(ids, g, slots[g]); err != nil {
				return err
			}
		}
		if tables[g], err = e.Mgr.BlockTablesGroup(ids, g, nil); err != nil {
			return err
		}
	}
	ctx := make([]int, len(seqs))
	pos := make([]int, len(seqs))
	for i, s := range seqs {
		ctx[i], pos[i] = len(s.Tokens), len(s.Tokens)-1
	}
	var kerr error
	logits := e.M.forward(last, pos, func(l int, q, k, v [][]float32) [][]float32 {
		g := e.M.GroupOf(l)
		out, err := e.attend(l, slots[g], q, k, v, func(c *attention.Cache, kn *attention.Kernel, q, out []float32) error {
			return kn.Decode(c, l, e.M.Params(l), q, tables[g], ctx, out)
		})
		if err != nil {
			kerr = err
			return q
		}
		return out
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

// flatRange concatenates rows[i][from:to].
func flatRange(rows [][]float32, from, to int) []float32 {
	out := make([]float32, 0, len(rows)*(to-from))
	for _, r := range rows {
		out = append(out, r[from:to]...)
	}
	return out
}
