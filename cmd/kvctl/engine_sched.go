package main

import (
	"errors"
	"fmt"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/workload"
)

// simRequest is one request of the simulated engine's workload.
type simRequest struct {
	ID      int
	Arrival float64 // seconds from the start
	Prompt  []int32
	Output  int // tokens to generate (≥ 1)
	// done is the number of tokens generated before a preemption: readmitted, the
	// request recomputes its prompt and those tokens, then generates the rest.
	done int
}

// simSeq is a request the scheduler holds blocks for.
type simSeq struct {
	req       *simRequest
	id        paged.SeqID
	prefilled bool
	generated int
}

// scheduler is a continuous-batching scheduler in the manner of vLLM V1's: each
// step it continues chunked prefills, admits waiting requests first come first
// served within a token budget and a sequence cap (one Admit each: prefix hit,
// watermark, claim, reservation), decodes every prefilled sequence (DecodeStep,
// preempting the newest sequence by recompute while blocks run out) and frees the
// finished ones. It reports each step's work for the time model.
type scheduler struct {
	m         *paged.Manager
	maxTokens int // prefill + decode tokens per step
	maxSeqs   int

	waiting []*simRequest
	added   map[*simRequest]paged.SeqID // waiting requests already added (admission pending)
	run     []*simSeq

	finished, dropped, preempted int

	ids   []paged.SeqID
	toks  []int32
	slots []int64
	buf   []int32
}

// stepWork is what one step computed: new tokens and the cached context they read.
type stepWork struct {
	batchTokens, contextTokens int
}

func newScheduler(m *paged.Manager, maxTokens, maxSeqs int) *scheduler {
	return &scheduler{m: m, maxTokens: maxTokens, maxSeqs: maxSeqs, added: map[*simRequest]paged.SeqID{}}
}

func (s *scheduler) idle() bool { return len(s.waiting) == 0 && len(s.run) == 0 }

// step runs one scheduler step. Errors are the Manager's on a request it refuses
// (wrapped with the request id); ErrNoSpace is handled by waiting or preempting.
func (s *scheduler) step() (stepWork, error) {
	m := s.m
	var w stepWork
	decoding := 0
	for _, r := range s.run {
		if r.prefilled {
			decoding++
		}
	}
	budget := max(0, s.maxTokens-decoding) // decode tokens come first, as in vLLM
	// Continue chunked prefills.
	for _, r := range s.run {
		if r.prefilled || budget == 0 {
			continue
		}
		st, err := m.State(r.id)
		if err != nil {
			return w, err
		}
		n := min(st.Tokens-st.Computed, budget)
		if _, err := m.Reserve(r.id, n, 0, nil); errors.Is(err, paged.ErrNoSpace) {
			break
		} else if err != nil {
			return w, err
		}
		if err := m.MarkComputed(r.id, n); err != nil {
			return w, err
		}
		budget -= n
		w.batchTokens += n
		w.contextTokens += st.Computed
		r.prefilled = st.Computed+n == st.Tokens
	}
	// Admit waiting requests in order.
	for budget > 0 && len(s.waiting) > 0 && len(s.run) < s.maxSeqs {
		req := s.waiting[0]
		id, ok := s.added[req]
		if !ok {
			var err error
			s.buf = append(s.buf[:0], req.Prompt...)
			for i := range req.done {
				s.buf = append(s.buf, workload.OutputToken(req.ID, 0, i))
			}
			if id, err = m.Add(s.buf, paged.SeqOptions{Capacity: len(req.Prompt) + req.Output}); err != nil {
				return w, fmt.Errorf("request %d: %w", req.ID, err)
			}
			s.added[req] = id
		}
		adm, err := m.Admit(id, budget, 0, nil)
		if err != nil {
			return w, fmt.Errorf("request %d: %w", req.ID, err)
		}
		if adm.Admission == paged.AdmitLater {
			break
		}
		delete(s.added, req)
		s.waiting = s.waiting[1:]
		if adm.Admission == paged.AdmitNever { // longer than the whole cache
			if err := m.Free(id); err != nil {
				return w, err
			}
			s.dropped++
			continue
		}
		if err := m.MarkComputed(id, adm.N); err != nil {
			return w, err
		}
		budget -= adm.N
		w.batchTokens += adm.N
		w.contextTokens += adm.Start
		s.run = append(s.run, &simSeq{req: req, id: id, prefilled: adm.Start+adm.N == len(req.Prompt)+req.done, generated: req.done})
	}
	// Decode every prefilled sequence; preempt the newest while blocks run out.
	if err := s.decode(&w); err != nil {
		return w, err
	}
	// A step that computed nothing while sequences wait for blocks would repeat
	// forever (prefills holding what the others need): preempt the newest.
	if w.batchTokens == 0 && len(s.run) > 0 {
		if err := s.preemptNewest(); err != nil {
			return w, err
		}
	}
	// Finish.
	kept := s.run[:0]
	for _, r := range s.run {
		if r.prefilled && r.generated >= r.req.Output {
			if err := m.Free(r.id); err != nil {
				return w, err
			}
			s.finished++
			continue
		}
		kept = append(kept, r)
	}
	clear(s.run[len(kept):])
	s.run = kept
	return w, nil
}

func (s *scheduler) decode(w *stepWork) error {
	for {
		s.ids, s.toks = s.ids[:0], s.toks[:0]
		ctx := 0
		for _, r := range s.run {
			if r.prefilled && r.generated < r.req.Output {
				s.ids = append(s.ids, r.id)
				s.toks = append(s.toks, workload.OutputToken(r.req.ID, 0, r.generated))
				ctx += len(r.req.Prompt) + r.generated
			}
		}
		if len(s.ids) == 0 {
			return nil
		}
		if cap(s.slots) < len(s.ids) {
			s.slots = make([]int64, len(s.ids))
		}
		_, err := s.m.DecodeStep(s.ids, s.toks, 0, s.slots[:len(s.ids)], nil)
		if errors.Is(err, paged.ErrNoSpace) {
			if err := s.preemptNewest(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := s.m.MarkComputedBatch(s.ids, 1); err != nil {
			return err
		}
		for _, r := range s.run {
			if r.prefilled && r.generated < r.req.Output {
				r.generated++
			}
		}
		w.batchTokens += len(s.ids)
		w.contextTokens += ctx
		return nil
	}
}

// preemptNewest frees the newest running sequence and puts its request back at the
// head of the queue, to be recomputed (vLLM's recompute preemption). A sequence
// that runs alone and still cannot progress outgrows the whole cache: it is dropped.
func (s *scheduler) preemptNewest() error {
	r := s.run[len(s.run)-1]
	s.run[len(s.run)-1] = nil
	s.run = s.run[:len(s.run)-1]
	if err := s.m.Free(r.id); err != nil {
		return err
	}
	if len(s.run) == 0 {
		s.dropped++
		return nil
	}
	s.preempted++
	r.req.done = r.generated
	s.waiting = append([]*simRequest{r.req}, s.waiting...)
	return nil
}
