package paged_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/workload"
)

// mooncakeReqs returns the first n requests of the Mooncake conversation trace, or
// skips tb when the traces are absent.
func mooncakeReqs(tb testing.TB, n int) []workload.Request {
	tb.Helper()
	p := filepath.Join(workload.TracesDir(), "mooncake_conversation_trace.jsonl")
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("trace %s not found (set PAGEDKV_TRACES to the public traces directory): %v", p, err)
	}
	src, err := workload.OpenTrace(p, workload.TraceOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	reqs, err := workload.Collect(workload.Take(src, n))
	if err != nil {
		tb.Fatal(err)
	}
	return reqs
}

// replayStats is what a replay did.
type replayStats struct {
	admitted, finished, rejected, preempted, truncated, steps int
	hitTokens, promptTokens                                   int
}

// replay drives a manager with reqs the way the simulator's paged policy drives it
// on a trace (kvsim -trace T -policies paged), without the time model: arrivals are
// ignored (every request is waiting from the start, in order); at most maxRunning
// requests run; an admission reserves and computes the whole prompt at once (Admit,
// MarkComputed); each step decodes one token of every running request (DecodeStep,
// MarkComputedBatch); a request that generated its output is freed. When a step does
// not fit, the latest admitted request is preempted (freed, to be recomputed from its
// prompt), or cut short if it runs alone; a request that can never be admitted is
// rejected. The access pattern on the block pool — prefix hits, registrations, frees
// to the free queue's tail and evictions from its head — is the simulator's.
func replay(tb testing.TB, m *paged.Manager, reqs []workload.Request, maxRunning int) replayStats {
	type running struct {
		id  paged.SeqID
		req int // index into reqs
		gen int // tokens generated
	}
	var (
		st      replayStats
		run     []running
		queue   []int // indices of waiting requests, in order
		pending = paged.SeqID(0)
		ids     []paged.SeqID
		toks    []int32
		slots   []int64
		copies  []paged.BlockCopy
	)
	for i := range reqs {
		queue = append(queue, i)
	}
	for len(queue) > 0 || len(run) > 0 {
		for len(queue) > 0 && len(run) < maxRunning { // admissions
			r := &reqs[queue[0]]
			if pending == 0 {
				id, err := m.Add(r.Prompt, paged.SeqOptions{Capacity: len(r.Prompt) + r.OutputLen + 1})
				if err != nil {
					tb.Fatal(err)
				}
				pending = id
			}
			adm, err := m.Admit(pending, len(r.Prompt), 0, copies[:0])
			if err != nil {
				tb.Fatal(err)
			}
			if adm.Admission == paged.AdmitNever { // rejected, as the simulator does
				_ = m.Free(pending)
				st.rejected++
				queue, pending = queue[1:], 0
				continue
			}
			if adm.Admission == paged.AdmitLater {
				if len(run) == 0 {
					tb.Fatalf("request %d (%d tokens) waits on an idle manager", r.ID, len(r.Prompt))
				}
				break
			}
			if err := m.MarkComputed(pending, adm.N); err != nil {
				tb.Fatal(err)
			}
			st.admitted++
			st.hitTokens += adm.Cached
			st.promptTokens += len(r.Prompt)
			run = append(run, running{id: pending, req: queue[0]})
			queue, pending = queue[1:], 0
		}
		for { // one decode step for every running request, preempting until it fits
			ids, toks = ids[:0], toks[:0]
			for _, s := range run {
				ids = append(ids, s.id)
				toks = append(toks, workload.OutputToken(reqs[s.req].ID, 0, s.gen))
			}
			if cap(slots) < len(ids) {
				slots = make([]int64, len(ids))
			}
			var err error
			copies, err = m.DecodeStep(ids, toks, 0, slots[:len(ids)], copies[:0])
			if err == nil {
				break
			}
			if !errors.Is(err, paged.ErrNoSpace) {
				tb.Fatal(err)
			}
			last := run[len(run)-1]
			_ = m.Free(last.id)
			run = run[:len(run)-1]
			if len(run) == 0 { // alone it outgrew the pool: cut short
				st.truncated++
				ids = ids[:0]
				break
			}
			if pending != 0 { // the requeued request goes first
				_ = m.Free(pending)
				pending = 0
			}
			queue = append([]int{last.req}, queue...)
			st.preempted++
		}
		if len(ids) == 0 {
			continue
		}
		if err := m.MarkComputedBatch(ids, 1); err != nil {
			tb.Fatal(err)
		}
		st.steps++
		kept := run[:0]
		for _, s := range run {
			if s.gen++; s.gen >= reqs[s.req].OutputLen {
				_ = m.Free(s.id)
				st.finished++
				continue
			}
			kept = append(kept, s)
		}
		run = kept
	}
	return st
}

// mooncakeManager is the paged policy's manager of the simulator's Mooncake run
// (kvsim -trace mooncake_conversation_trace.jsonl -model llama-3.1-70b -gpu h200-141
// -tp 4): 69,885 blocks of 16 tokens.
func mooncakeManager(tb testing.TB) *paged.Manager {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = 69885, 16
	m, err := paged.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BenchmarkReplayMooncake400 replays the first 400 requests of the Mooncake
// conversation trace (4.8 M prompt tokens, 300 K blocks registered: the 69,885-block
// pool turns over about four times) on the simulator's Mooncake manager, 76 requests
// running at most (the simulator's mean batch). ns/op is one whole replay on a new
// manager; the trace is read outside the timer. Skipped without the traces.
func BenchmarkReplayMooncake400(b *testing.B) {
	reqs := mooncakeReqs(b, 400)
	var st replayStats
	b.ReportAllocs()
	for b.Loop() {
		st = replay(b, mooncakeManager(b), reqs, 76)
	}
	b.ReportMetric(float64(st.hitTokens)/float64(st.promptTokens)*100, "hit%")
	b.ReportMetric(float64(st.steps), "steps/op")
}

// The replay runs through and leaves the manager consistent, every block free.
func TestReplayMooncake(t *testing.T) {
	reqs := mooncakeReqs(t, 60)
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = 2000, 16 // small: evictions, preemptions, rejections
	cfg.Watermark, cfg.DisableWatermark = 0, true
	m, err := paged.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := replay(t, m, reqs, 16)
	if err := m.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	if st.finished+st.truncated+st.rejected != len(reqs) || st.admitted != st.finished+st.truncated+st.preempted ||
		st.rejected == 0 || st.preempted == 0 || st.hitTokens == 0 || m.Stats().Evictions == 0 || m.Stats().FreeBlocks != cfg.NumBlocks {
		t.Fatalf("replay: %+v, stats %+v", st, m.Stats())
	}
}
