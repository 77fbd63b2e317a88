// Command tinylm serves a tiny random-weight transformer through paged and attention
// with continuous batching — prefix sharing between prompts, a fork with copy-on-write
// and speculative decoding with rollback — and checks every generated token and logit
// against a recomputation without any cache. With -tp 2 (or 4) the KV heads are
// sharded over tensor-parallel ranks, each with its own cache and kernel; the tokens
// and logits are exactly those of one rank. With -window W the model alternates full
// attention and W-token sliding-window layers: two KV-cache groups, the window's
// blocks released as the sequences grow, still equal to the recomputation. With
// -chunk C it alternates full attention and chunked local attention over chunks of
// C tokens (Llama 4's local layers): the blocks of finished chunks are released.
//
//	go run ./examples/tinylm [-tp 2] [-window 6 | -chunk 8]
package main

import (
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/pagedkv/pagedkv/attention"
)

func main() {
	tp := flag.Int("tp", 1, "tensor-parallel ranks (1, 2 or 4): each holds a shard of the KV heads")
	window := flag.Int("window", 0, "if > 0, a hybrid model: full-attention layers alternating with sliding-window layers of this window")
	chunk := flag.Int("chunk", 0, "if > 0, a hybrid model: full-attention layers alternating with chunked local attention over chunks of this many tokens")
	flag.Parse()
	m := NewModel(7)
	switch {
	case *window > 0 && *chunk > 0:
		fmt.Fprintln(os.Stderr, "tinylm: -window and -chunk: one or the other")
		os.Exit(2)
	case *window > 0:
		m = NewHybridModel(7, *window)
	case *chunk > 0:
		m = NewChunkedModel(7, *chunk)
	}
	report, err := DemoModel(m, attention.Float32, *tp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tinylm:", err)
		os.Exit(1)
	}
	fmt.Print(report.String())
	if report.MaxLogitDiff > 1e-4 || report.TokenMismatches > 0 {
		os.Exit(1)
	}
}

// Report summarises a demo run.
type Report struct {
	Lines           []string
	MaxLogitDiff    float64
	TokenMismatches int
	Checked         int
	FreeAtEnd       int
	NumBlocks       int
	CopyOnWrites    uint64
	CachedTokens    int
	Accepted        int
	// WindowReleases and PeakBlocks: blocks the windowed groups released, and the
	// most blocks in use after any step; PeakBytes is PeakBlocks × the pool's block
	// bytes (0 for the plain model, whose manager is not told its bytes).
	WindowReleases uint64
	PeakBlocks     int
	PeakBytes      int64
	// Tokens and Logits are every sequence's final tokens and logits, in order.
	Tokens [][]int32
	Logits [][][]float32
}

func (r *Report) logf(format string, a ...any) { r.Lines = append(r.Lines, fmt.Sprintf(format, a...)) }

func (r *Report) String() string {
	s := ""
	for _, l := range r.Lines {
		s += l + "\n"
	}
	return s + fmt.Sprintf("checked %d tokens against recomputation: max |logit diff| %.2e, %d token mismatches; %d/%d blocks free at the end\n",
		r.Checked, r.MaxLogitDiff, r.TokenMismatches, r.FreeAtEnd, r.NumBlocks)
}

// Demo runs the scenario on the plain model with KV stored as dt over tp
// tensor-parallel ranks.
func Demo(dt attention.DType, tp int) (*Report, error) { return DemoModel(NewModel(7), dt, tp) }

// DemoModel runs the scenario on model m.
func DemoModel(m *Model, dt attention.DType, tp int) (*Report, error) {
	const blocks = 64
	e, err := NewEngine(m, EngineConfig{BlockSize: 4, NumBlocks: blocks, DType: dt, TP: tp})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	rep := &Report{NumBlocks: blocks}
	rep.logf("%d tensor-parallel rank(s), KV heads per rank: %d; attention path: %s", tp, e.Caches[0].Config().LocalKVHeads(), attention.Path())
	if gs := e.Mgr.Groups(); len(gs) > 1 {
		rep.logf("KV-cache groups: %v", gs)
	}
	step := func(seqs ...*Seq) error {
		err := e.Step(seqs)
		rep.PeakBlocks = max(rep.PeakBlocks, e.Mgr.Stats().UsedBlocks)
		return err
	}
	promptA := make([]int32, 20)
	for i := range promptA {
		promptA[i] = int32((i*7 + 3) % m.Vocab)
	}
	a, err := e.Add(promptA)
	if err != nil {
		return nil, err
	}
	promptB := append(append([]int32(nil), promptA[:16]...), 5, 9, 11, 2, 40)
	b, err := e.Add(promptB)
	if err != nil {
		return nil, err
	}
	rep.CachedTokens = b.Cached
	rep.logf("prompt B shares %d cached tokens with prompt A", b.Cached)
	for range 5 {
		if err := step(a, b); err != nil {
			return nil, err
		}
	}
	// Fork A; the child takes another token than A's greedy choice.
	alt := (a.Tokens[len(a.Tokens)-1] + 1) % int32(m.Vocab)
	c, err := e.Fork(a, alt)
	if err != nil {
		return nil, err
	}
	forkAt := len(c.Tokens) - 1
	for range 6 {
		if err := step(a, b, c); err != nil {
			return nil, err
		}
	}
	rep.CopyOnWrites = e.Mgr.Stats().CopyOnWrites
	rep.logf("forked A at position %d; %d copy-on-write block copies", forkAt, rep.CopyOnWrites)
	// Speculative decoding on B: two right drafts (the model's own greedy choices,
	// found by recomputation) and a wrong one.
	ref := m.Recompute(b.Tokens)
	d1 := Argmax(ref[len(ref)-1])
	ref = m.Recompute(append(append([]int32(nil), b.Tokens...), d1))
	d2 := Argmax(ref[len(ref)-1])
	wrong := (Argmax(m.Recompute(append(append([]int32(nil), b.Tokens...), d1, d2))[len(b.Tokens)+1]) + 1) % int32(m.Vocab)
	acc, err := e.Speculate(b, []int32{d1, d2, wrong})
	if err != nil {
		return nil, err
	}
	rep.Accepted = acc
	rep.logf("speculative step on B: %d of 3 drafts accepted, 1 rolled back", acc)
	for range 3 {
		if err := step(a, b, c); err != nil {
			return nil, err
		}
	}
	for _, s := range []*Seq{a, b, c} {
		ref := m.Recompute(s.Tokens)
		for i, lg := range s.Logits {
			p := s.Prompt - 1 + i
			for j := range lg {
				rep.MaxLogitDiff = math.Max(rep.MaxLogitDiff, math.Abs(float64(lg[j]-ref[p][j])))
			}
			forced := s == c && p+1 == forkAt
			if !forced && s.Tokens[p+1] != Argmax(ref[p]) {
				rep.TokenMismatches++
			}
			rep.Checked++
		}
		rep.logf("sequence %d: %d prompt + %d generated tokens", s.ID, s.Prompt, len(s.Tokens)-s.Prompt)
		rep.Tokens, rep.Logits = append(rep.Tokens, s.Tokens), append(rep.Logits, s.Logits)
	}
	for _, s := range []*Seq{a, b, c} {
		if err := e.Free(s); err != nil {
			return nil, err
		}
	}
	rep.WindowReleases = e.Mgr.Stats().WindowReleases
	rep.PeakBytes = int64(rep.PeakBlocks) * e.Mgr.Config().BlockBytes()
	if rep.WindowReleases > 0 {
		rep.logf("the window groups released %d blocks; at most %d blocks (%d bytes) in use after a step", rep.WindowReleases, rep.PeakBlocks, rep.PeakBytes)
	}
	rep.FreeAtEnd = e.Mgr.Stats().FreeBlocks
	if err := e.Mgr.CheckInvariants(); err != nil {
		return nil, err
	}
	return rep, nil
}
