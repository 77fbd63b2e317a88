package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/workload"
)

// pagedConfig configures the paged policy.
type pagedConfig struct {
	NumBlocks            int // device blocks
	HostBlocks           int // host tier (swap space and host prefix cache); 0: none
	SwapBlocks           int // of them, what swapped-out sequences may own
	BlockSize            int
	DisablePrefixCaching bool
	Watermark            float64
	ReleasePolicy        paged.ReleasePolicy // nil: paged's default
	Seed                 uint64              // beam selection
	Events               paged.EventOptions  // the manager's event queue (cluster mode)
	HostCache            paged.HostCacheOptions
	Groups               []paged.KVGroup // KV-cache groups (paged_groups.go); nil: one
	AsyncOffload         bool            // offloads overlap the forward pass: not charged
	GroupedEviction      bool            // paged.Config.GroupedEviction
}

// pagedPolicy drives the real paged.Manager: one sequence per sample or beam, forked
// after the prompt so the prompt's blocks are shared and copied on write.
type pagedPolicy struct {
	m    *paged.Manager
	bs   int
	swap int // pagedConfig.SwapBlocks
	rng  *rand.Rand
	reqs []pagedReq // per-request state, indexed by reqState.slot
	// scratch, reused across calls
	ids     []paged.SeqID
	toks    []int32
	slots   []int64
	copies  []paged.BlockCopy
	stBuf   []paged.SeqState
	beamBuf []seqHandle
	bd      breakdown
	groups  int // KV-cache groups (paged_groups.go)
	// hostCopies counts the device↔host copies the manager returned (host
	// prefix-cache onloads and offloads) that the engine has not charged yet;
	// charged counts those charged so far; asyncOffload leaves offloads uncharged
	// (host_cache.go).
	hostCopies, charged int
	asyncOffload        bool
}

// pagedReq is the paged policy's state of one request.
type pagedReq struct {
	seqs     []seqHandle // the request's sequences; seqs[0] is the prompt's
	added    bool        // seqs[0] is registered with the manager (⇔ len(seqs) > 0)
	reserved bool        // holds blocks (⇒ added)
	beamIter int         // iteration of the last beam reshuffle
}

type seqHandle = uint64

func newPagedPolicy(c pagedConfig) (*pagedPolicy, error) {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize, cfg.DisablePrefixCaching, cfg.Watermark = c.NumBlocks, c.BlockSize, c.DisablePrefixCaching, c.Watermark
	cfg.DisableWatermark = c.Watermark == 0 // a pagedConfig built without one (tests): none (Config.Watermark 0 became 0.01 before)
	cfg.HostBlocks, cfg.Groups = c.HostBlocks, c.Groups
	cfg.Events = c.Events
	cfg.HostCache, cfg.GroupedEviction = c.HostCache, c.GroupedEviction
	if c.ReleasePolicy != nil {
		cfg.ReleasePolicy = c.ReleasePolicy
	}
	m, err := paged.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &pagedPolicy{m: m, bs: c.BlockSize, swap: c.SwapBlocks, rng: rand.New(rand.NewPCG(c.Seed, 0xBEA3)), bd: newBreakdown(c.NumBlocks),
		groups: m.NumGroups(), asyncOffload: c.AsyncOffload}, nil
}

func (p *pagedPolicy) name() string   { return PolicyPaged }
func (p *pagedPolicy) blockSize() int { return p.bs }

// state returns r's state, growing the table for a new slot.
func (p *pagedPolicy) state(r *reqState) *pagedReq {
	for r.slot >= len(p.reqs) {
		p.reqs = append(p.reqs, pagedReq{})
	}
	return &p.reqs[r.slot]
}

func (p *pagedPolicy) seq(q *pagedReq, i int) paged.SeqID { return paged.SeqID(q.seqs[i]) }

func (p *pagedPolicy) prefill(r *reqState, chunk int) grant {
	q := p.state(r)
	if !q.added {
		tokens := r.Prompt
		if r.generated > 0 { // recompute after preemption: prompt plus output so far
			tokens = make([]int32, 0, r.promptLen)
			tokens = append(tokens, r.Prompt...)
			for i := range r.generated {
				tokens = append(tokens, workload.OutputToken(r.ID, 0, i))
			}
		}
		id, err := p.m.Add(tokens, paged.SeqOptions{Capacity: r.final + 1})
		if err != nil {
			panic(err)
		}
		q.seqs = append(q.seqs[:0], seqHandle(id))
		q.added = true
	}
	id := p.seq(q, 0)
	if !q.reserved {
		adm, err := p.m.Admit(id, chunk, 0, p.copies[:0])
		if err != nil {
			panic(err)
		}
		p.copies = adm.Copies
		p.countHost(adm.Copies)
		switch adm.Admission {
		case paged.AdmitNever:
			p.release(r)
			return grant{status: grantNever}
		case paged.AdmitLater:
			return grant{status: grantLater}
		}
		q.reserved = true
		return grant{tokens: adm.N, hits: adm.Start, hostHits: adm.Hit.Host, first: true}
	}
	n := min(chunk, r.promptLen-r.prefilled)
	res, err := p.m.Reserve(id, n, 0, p.copies[:0])
	if errors.Is(err, paged.ErrNoSpace) {
		return grant{status: grantLater}
	} else if err != nil {
		panic(err)
	}
	p.copies = res.Copies
	p.countHost(res.Copies)
	return grant{tokens: n}
}

// beamKeep is the probability that a beam continues its own hypothesis in a step
// (calibrated: it reproduces the vLLM paper's Fig. 15 Alpaca beam savings).
const beamKeep = 0.9

// reshuffleBeams does beam search's per-step selection: each of the k new beams
// continues one of the current beams (itself with probability beamKeep, else a
// uniformly chosen one), as a fork; the old beams are freed. Shared prefixes stay
// shared.
func (p *pagedPolicy) reshuffleBeams(q *pagedReq) {
	k := len(q.seqs)
	next := p.beamBuf[:0]
	for range k {
		next = append(next, 0)
	}
	for i := range k {
		par := i
		if p.rng.Float64() >= beamKeep {
			par = p.rng.IntN(k)
		}
		c, err := p.m.Fork(p.seq(q, par))
		if err != nil {
			panic(err)
		}
		next[i] = seqHandle(c)
	}
	for i := range k {
		_ = p.m.Free(p.seq(q, i))
	}
	q.seqs, p.beamBuf = append(q.seqs[:0], next...), next
}

func (p *pagedPolicy) decode(r *reqState, iter int) bool {
	q := p.state(r)
	if r.Beam > 1 && q.beamIter != iter {
		p.reshuffleBeams(q)
		q.beamIter = iter
	}
	p.ids, p.toks = p.ids[:0], p.toks[:0]
	for i := range q.seqs {
		p.ids = append(p.ids, p.seq(q, i))
		p.toks = append(p.toks, workload.OutputToken(r.ID, i, r.generated-1))
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
	p.countHost(p.copies)
	return true
}

func (p *pagedPolicy) commit(r *reqState) {
	q := p.state(r)
	switch r.stepKind {
	case stepPrefill:
		n := r.stepTokens
		if err := p.m.MarkComputed(p.seq(q, 0), n); err != nil {
			panic(err)
		}
		if r.prefilled+n == r.promptLen { // prefill done: the samples/beams start here
			for len(q.seqs) < r.Width() {
				c, err := p.m.Fork(p.seq(q, 0))
				if err != nil {
					panic(err)
				}
				q.seqs = append(q.seqs, seqHandle(c))
			}
		}
	case stepDecode:
		p.ids = p.ids[:0]
		for i := range q.seqs {
			p.ids = append(p.ids, p.seq(q, i))
		}
		if err := p.m.MarkComputedBatch(p.ids, 1); err != nil {
			panic(err)
		}
	}
}

func (p *pagedPolicy) release(r *reqState) {
	q := p.state(r)
	for i := range q.seqs {
		_ = p.m.Free(p.seq(q, i))
	}
	q.seqs = q.seqs[:0]
	q.added, q.reserved = false, false
	q.beamIter = 0
}

func (p *pagedPolicy) prefixStats() (uint64, uint64) {
	st := p.m.Stats()
	return st.PrefixQueries, st.PrefixHits
}

// checkInvariants checks the manager's own invariants, that every live sequence
// belongs to a request in flight, and each request's state: reserved ⇒ added ⇔
// sequences held, at most Width sequences.
func (p *pagedPolicy) checkInvariants(live []*reqState) error {
	if err := p.m.CheckInvariants(); err != nil {
		return err
	}
	inFlight := map[int]bool{}
	seqs := 0
	for _, r := range live {
		inFlight[r.slot] = true
		q := p.state(r)
		switch {
		case q.reserved && !q.added:
			return fmt.Errorf("sim: paged: request %d reserved but not added", r.ID)
		case q.added != (len(q.seqs) > 0):
			return fmt.Errorf("sim: paged: request %d added=%v with %d sequences", r.ID, q.added, len(q.seqs))
		case len(q.seqs) > r.Width():
			return fmt.Errorf("sim: paged: request %d holds %d sequences, width %d", r.ID, len(q.seqs), r.Width())
		}
		seqs += len(q.seqs)
	}
	for slot := range p.reqs {
		if !inFlight[slot] && len(p.reqs[slot].seqs) > 0 {
			return fmt.Errorf("sim: paged: free slot %d still holds %d sequences", slot, len(p.reqs[slot].seqs))
		}
	}
	if n := p.m.NumSequences(); n != seqs {
		return fmt.Errorf("sim: paged: manager holds %d sequences, requests %d", n, seqs)
	}
	return nil
}
