package sim

import (
	"errors"
	"math/rand/v2"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/paged"
)

// pagedPolicy drives the real paged.Manager.
type pagedPolicy struct {
	m      *paged.Manager
	bs     int
	rng    *rand.Rand
	ids    []paged.SeqID
	toks   []int32
	slots  []int64
	copies []paged.BlockCopy
	tbl    []int32
	// beamBuf is scratch for beam reshuffles
	beamBuf []seqHandle
	// breakdown scratch, indexed by block id
	stamp    []int
	tok, res []int
	distinct []int32
	sampleN  int
}

func newPagedPolicy(numBlocks, hostBlocks, bs int, caching bool, watermark float64, release blockpool.ReleasePolicy, seed uint64) (*pagedPolicy, error) {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize, cfg.DisablePrefixCaching, cfg.Watermark = numBlocks, bs, !caching, watermark
	cfg.DisableWatermark = watermark == 0
	cfg.HostBlocks = hostBlocks
	if release != nil {
		cfg.ReleasePolicy = release
	}
	m, err := paged.New(cfg)
	if err != nil {
		return nil, err
	}
	return &pagedPolicy{m: m, bs: bs, rng: rand.New(rand.NewPCG(seed, 0xBEA3)),
		stamp: make([]int, numBlocks), tok: make([]int, numBlocks), res: make([]int, numBlocks)}, nil
}

func (p *pagedPolicy) name() string   { return "paged" }
func (p *pagedPolicy) blockSize() int { return p.bs }

func (p *pagedPolicy) seq(r *reqState, i int) paged.SeqID { return paged.SeqID(r.seqs[i]) }

func (p *pagedPolicy) prefill(r *reqState, chunk int) (int, bool, bool) {
	if !r.added {
		tokens := r.Prompt
		if r.generated > 0 { // recompute after preemption: prompt plus output so far
			tokens = make([]int32, 0, r.promptLen)
			tokens = append(tokens, r.Prompt...)
			for i := range r.generated {
				tokens = append(tokens, OutputToken(r.ID, 0, i))
			}
		}
		id, err := p.m.Add(tokens, paged.SeqOptions{Capacity: r.final + 1})
		if err != nil {
			panic(err)
		}
		r.seqs = append(r.seqs[:0], seqHandle(id))
		r.added = true
	}
	id := p.seq(r, 0)
	if !r.reserved {
		adm, err := p.m.Admit(id, chunk, 0, nil)
		if err != nil {
			panic(err)
		}
		switch adm.Admission {
		case paged.AdmitNever:
			p.release(r)
			return 0, false, true
		case paged.AdmitLater:
			return 0, false, false
		}
		r.reserved = true
		r.prefilled, r.computed = adm.Start, adm.Start
		return adm.N, true, false
	}
	n := min(chunk, r.promptLen-r.prefilled)
	if _, err := p.m.Reserve(id, n, 0, nil); errors.Is(err, paged.ErrNoSpace) {
		return 0, false, false
	} else if err != nil {
		panic(err)
	}
	return n, true, false
}

// beamKeep is the probability that a beam continues its own hypothesis in a step.
var beamKeep = 0.9

// reshuffleBeams does beam search's per-step selection: each of the k new beams
// continues one of the current beams (itself with probability 1/2, else a uniformly
// chosen one), as a fork; the old beams are freed. Shared prefixes stay shared.
func (p *pagedPolicy) reshuffleBeams(r *reqState) {
	k := len(r.seqs)
	next := p.beamBuf[:0]
	for range k {
		next = append(next, 0)
	}
	for i := range k {
		par := i
		if p.rng.Float64() >= beamKeep {
			par = p.rng.IntN(k)
		}
		c, err := p.m.Fork(p.seq(r, par))
		if err != nil {
			panic(err)
		}
		next[i] = seqHandle(c)
	}
	for i := range k {
		_ = p.m.Free(p.seq(r, i))
	}
	r.seqs, p.beamBuf = append(r.seqs[:0], next...), next
}

func (p *pagedPolicy) decode(r *reqState, iter int) bool {
	if r.Beam > 1 && r.beamIter != iter {
		p.reshuffleBeams(r)
		r.beamIter = iter
	}
	p.ids, p.toks = p.ids[:0], p.toks[:0]
	for i := range r.seqs {
		p.ids = append(p.ids, p.seq(r, i))
		p.toks = append(p.toks, OutputToken(r.ID, i, r.generated-1))
	}
	if cap(p.slots) < len(p.ids) {
		p.slots = make([]int64, len(p.ids))
	}
	var err error
	p.copies, err = p.m.DecodeStep(p.ids, p.toks, 0, p.slots[:len(p.ids)], p.copies[:0])
	if errors.Is(err, paged.ErrNoSpace) {
		return false
	} else if err != nil {
		panic(err)
	}
	return true
}

func (p *pagedPolicy) commit(r *reqState) {
	switch r.stepKind {
	case stepPrefill:
		n := r.stepTokens
		if err := p.m.MarkComputed(p.seq(r, 0), n); err != nil {
			panic(err)
		}
		if r.prefilled+n == r.promptLen { // prefill done: the samples/beams start here
			for len(r.seqs) < r.Width() {
				c, err := p.m.Fork(p.seq(r, 0))
				if err != nil {
					panic(err)
				}
				r.seqs = append(r.seqs, seqHandle(c))
			}
		}
	case stepDecode:
		p.ids = p.ids[:0]
		for i := range r.seqs {
			p.ids = append(p.ids, p.seq(r, i))
		}
		if err := p.m.MarkComputedBatch(p.ids, 1); err != nil {
			panic(err)
		}
	}
}

func (p *pagedPolicy) release(r *reqState) {
	for i := range r.seqs {
		_ = p.m.Free(p.seq(r, i))
	}
	r.seqs = r.seqs[:0]
	r.added, r.reserved = false, false
}

func (p *pagedPolicy) sample(running []*reqState, s *memSample) {
	p.sampleN++
	n := p.sampleN
	p.distinct = p.distinct[:0]
	st := p.m.Stats()
	s.capacity = st.NumBlocks * p.bs
	s.usedBlocks = st.UsedBlocks
	for _, r := range running {
		for i := range r.seqs {
			id := p.seq(r, i)
			state, err := p.m.State(id)
			if err != nil {
				panic(err)
			}
			p.tbl, _ = p.m.BlockTable(id, p.tbl[:0])
			s.logical += len(p.tbl)
			for j, b := range p.tbl {
				if p.stamp[b] != n {
					p.stamp[b], p.tok[b], p.res[b] = n, 0, 0
					p.distinct = append(p.distinct, b)
				}
				p.tok[b] = max(p.tok[b], min(p.bs, max(0, state.Computed-j*p.bs)))
				p.res[b] = max(p.res[b], min(p.bs, max(0, r.final-j*p.bs)))
			}
		}
	}
	s.physical += len(p.distinct)
	for _, b := range p.distinct {
		t, f := p.tok[b], max(p.tok[b], p.res[b])
		s.token += t
		s.reserved += f - t
		s.internal += p.bs - f
	}
}

func (p *pagedPolicy) prefixStats() (uint64, uint64) {
	st := p.m.Stats()
	return st.PrefixQueries, st.PrefixHits
}

// swapOut moves every sequence of r to the host tier and returns the blocks moved, or
// -1 (nothing changed) when the host tier cannot take them all.
func (p *pagedPolicy) swapOut(r *reqState) int {
	need := 0
	for i := range r.seqs {
		st, err := p.m.State(p.seq(r, i))
		if err != nil {
			panic(err)
		}
		need += (st.Computed + p.bs - 1) / p.bs
	}
	if need > p.m.Stats().HostFree {
		return -1
	}
	for i := range r.seqs {
		var err error
		if p.copies, err = p.m.SwapOut(p.seq(r, i), p.copies[:0]); err != nil {
			panic(err)
		}
	}
	return need
}

// swapIn brings r's sequences back if the device has room for all of them above the
// watermark; it returns the blocks moved or -1.
func (p *pagedPolicy) swapIn(r *reqState) int {
	need := 0
	for i := range r.seqs {
		n, err := p.m.SwapInBlocks(p.seq(r, i))
		if err != nil {
			panic(err)
		}
		need += n
	}
	if need+p.m.WatermarkBlocks() > p.m.Stats().FreeBlocks {
		return -1
	}
	for i := range r.seqs {
		var err error
		if p.copies, err = p.m.SwapIn(p.seq(r, i), p.copies[:0]); err != nil {
			panic(err)
		}
	}
	return need
}
