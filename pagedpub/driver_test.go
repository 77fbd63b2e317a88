package pagedpub

import (
	"bufio"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// request is one request of a test workload.
type request struct {
	prompt []int32
	out    int // tokens to generate
	opts   paged.SeqOptions
}

// running is a request the engine holds blocks for.
type running struct {
	req       int
	id        paged.SeqID
	prefilled bool
	generated int
}

// engine is a minimal continuous-batching scheduler over a Manager, as a serving
// engine drives it: each step continues chunked prefills, admits waiting requests
// first come first served within a token budget (Admit), decodes every prefilled
// sequence (DecodeStep, preempting the newest by recompute when blocks run out) and
// frees finished ones.
type engine struct {
	t       testing.TB
	m       *paged.Manager
	reqs    []request
	waiting []int               // request indices, in order
	added   map[int]paged.SeqID // waiting requests already added (admission pending)
	run     []*running
	budget  int // prefill tokens per step
	done    int
	dropped int
	// step buffers
	ids   []paged.SeqID
	toks  []int32
	slots []int64
}

func newEngine(t testing.TB, m *paged.Manager, reqs []request, budget int) *engine {
	e := &engine{t: t, m: m, reqs: reqs, budget: budget, added: map[int]paged.SeqID{}}
	for i := range reqs {
		e.waiting = append(e.waiting, i)
	}
	return e
}

func (e *engine) finished() bool { return e.done+e.dropped == len(e.reqs) }

// outToken is the deterministic i-th generated token of request r.
func outToken(r, i int) int32 { return int32((r*7919 + i*104729) % 50000) }

func (e *engine) step() {
	t, m := e.t, e.m
	budget := e.budget
	// Continue chunked prefills.
	for _, r := range e.run {
		if r.prefilled || budget == 0 {
			continue
		}
		st, err := m.State(r.id)
		require.NoError(t, err)
		n := min(st.Tokens-st.Computed, budget)
		if _, err := m.Reserve(r.id, n, 0, nil); errors.Is(err, paged.ErrNoSpace) {
			break
		} else {
			require.NoError(t, err)
		}
		require.NoError(t, m.MarkComputed(r.id, n))
		budget -= n
		r.prefilled = st.Computed+n == st.Tokens
	}
	// Admit waiting requests in order.
	for budget > 0 && len(e.waiting) > 0 {
		ri := e.waiting[0]
		id, ok := e.added[ri]
		if !ok {
			var err error
			id, err = m.Add(e.reqs[ri].prompt, e.reqs[ri].opts)
			require.NoError(t, err)
			e.added[ri] = id
		}
		adm, err := m.Admit(id, budget, 0, nil)
		require.NoError(t, err)
		if adm.Admission == paged.AdmitLater {
			break
		}
		delete(e.added, ri)
		e.waiting = e.waiting[1:]
		if adm.Admission == paged.AdmitNever {
			require.NoError(t, m.Free(id))
			e.dropped++
			continue
		}
		require.NoError(t, m.MarkComputed(id, adm.N))
		budget -= adm.N
		e.run = append(e.run, &running{req: ri, id: id, prefilled: adm.Start+adm.N == len(e.reqs[ri].prompt)})
	}
	// Decode every prefilled sequence; preempt the newest while blocks run out.
	for {
		e.ids, e.toks = e.ids[:0], e.toks[:0]
		for _, r := range e.run {
			if r.prefilled {
				e.ids = append(e.ids, r.id)
				e.toks = append(e.toks, outToken(r.req, r.generated))
			}
		}
		if len(e.ids) == 0 {
			break
		}
		if cap(e.slots) < len(e.ids) {
			e.slots = make([]int64, len(e.ids))
		}
		_, err := m.DecodeStep(e.ids, e.toks, 0, e.slots[:len(e.ids)], nil)
		if errors.Is(err, paged.ErrNoSpace) && len(e.run) > 1 {
			e.preemptNewest()
			continue
		}
		require.NoError(t, err)
		require.NoError(t, m.MarkComputedBatch(e.ids, 1))
		break
	}
	// Finish.
	kept := e.run[:0]
	for _, r := range e.run {
		if r.prefilled {
			r.generated++
		}
		if r.generated >= e.reqs[r.req].out {
			require.NoError(t, m.Free(r.id))
			e.done++
			continue
		}
		kept = append(kept, r)
	}
	e.run = kept
}

// preemptNewest frees the newest running sequence and puts its request back at the
// head of the queue (recomputed when readmitted, as vLLM's recompute preemption).
func (e *engine) preemptNewest() {
	r := e.run[len(e.run)-1]
	e.run = e.run[:len(e.run)-1]
	require.NoError(e.t, e.m.Free(r.id))
	e.waiting = append([]int{r.req}, e.waiting...)
}

// synthetic is a chat-like workload: four shared system prompts, follow-up turns
// that extend an earlier request's prompt with its generated tokens, some requests
// with a LoRA adapter or a tenant's cache salt.
func synthetic(n int, seed uint64) []request {
	rng := rand.New(rand.NewPCG(seed, 99))
	sys := make([][]int32, 4)
	for i := range sys {
		sys[i] = make([]int32, 40+rng.IntN(120))
		for j := range sys[i] {
			sys[i][j] = int32(1000*i + j)
		}
	}
	var reqs []request
	for i := range n {
		var r request
		if i > 0 && rng.IntN(3) == 0 { // the next turn of an earlier conversation
			p := rng.IntN(len(reqs))
			prev := reqs[p]
			r.prompt = append([]int32(nil), prev.prompt...)
			for k := range prev.out {
				r.prompt = append(r.prompt, outToken(p, k))
			}
			r.opts = prev.opts
		} else {
			r.prompt = append([]int32(nil), sys[rng.IntN(len(sys))]...)
			switch rng.IntN(6) {
			case 0:
				r.opts.Adapter = "sql-lora"
			case 1:
				r.opts.CacheSalt = "tenant-7"
			}
		}
		for range 10 + rng.IntN(150) {
			r.prompt = append(r.prompt, int32(20000+rng.IntN(20000)))
		}
		r.out = 3 + rng.IntN(40)
		reqs = append(reqs, r)
	}
	return reqs
}

// mooncake reads the first n requests of the Mooncake conversation trace (each hash
// id names a 512-token block whose tokens are derived from the id, so equal ids
// share prefixes), prompts cut at maxPrompt tokens and outputs at maxOut; it skips
// the test when the traces are absent.
func mooncake(t testing.TB, n, maxPrompt, maxOut int) []request {
	f, err := os.Open(filepath.Join(workload.TracesDir(), "mooncake_conversation_trace.jsonl"))
	if err != nil {
		t.Skipf("Mooncake trace absent (%v): set PAGEDKV_TRACES to the traces directory", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var reqs []request
	for len(reqs) < n && sc.Scan() {
		var row struct {
			In     int     `json:"input_length"`
			Out    int     `json:"output_length"`
			Hashes []int64 `json:"hash_ids"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &row))
		in := min(row.In, maxPrompt)
		r := request{out: max(1, min(row.Out, maxOut))}
		for _, h := range row.Hashes {
			for i := 0; i < 512 && len(r.prompt) < in; i++ {
				x := uint64(h)*0xD6E8FEB86659FD93 + uint64(i)*0x9E3779B97F4A7C15
				x ^= x >> 32
				r.prompt = append(r.prompt, int32(x%50000))
			}
		}
		require.NotEmpty(t, r.prompt)
		reqs = append(reqs, r)
	}
	require.NoError(t, sc.Err())
	require.Len(t, reqs, n)
	return reqs
}
