package paged

import (
	"testing"
)

// BenchmarkLookupPrompt2048 looks up a 2,048-token prompt against a warm cache that
// holds it, hashing included (LookupPrompt hashes from scratch every call).
func BenchmarkLookupPrompt2048(b *testing.B) {
	m := newMgr(b, 4096, 16)
	prompt := span(0, 2048)
	prefill(b, m, prompt, SeqOptions{})
	b.ReportAllocs()
	for b.Loop() {
		n, _ := m.LookupPrompt(prompt, SeqOptions{})
		if n != 2032 {
			b.Fatal(n)
		}
	}
}

// BenchmarkForkCopyOnWrite forks a 1,000-token sequence and writes one token into the
// child (one copy-on-write of the partial block), then frees the child.
func BenchmarkForkCopyOnWrite(b *testing.B) {
	m := newMgr(b, 1024, 16)
	p, _ := prefill(b, m, span(0, 1000), SeqOptions{})
	ids := make([]SeqID, 1)
	slots := make([]int64, 1)
	tok := []int32{7}
	var copies []BlockCopy
	b.ReportAllocs()
	for b.Loop() {
		c, err := m.Fork(p)
		if err != nil {
			b.Fatal(err)
		}
		ids[0] = c
		if copies, err = m.DecodeStep(ids, tok, 0, slots, copies[:0]); err != nil || len(copies) != 1 {
			b.Fatal(err, copies)
		}
		_ = m.Free(c)
	}
}

// BenchmarkBeamSearch4 is one step of width-4 beam search over 500-token beams: fork
// the best beam three times, free three old beams, and decode all four (three
// copy-on-writes).
func BenchmarkBeamSearch4(b *testing.B) {
	m := newMgr(b, 1024, 16)
	root, _ := prefill(b, m, span(0, 500), SeqOptions{})
	beams := []SeqID{root}
	for range 3 {
		c, _ := m.Fork(root)
		beams = append(beams, c)
	}
	toks := make([]int32, 4)
	slots := make([]int64, 4)
	var copies []BlockCopy
	next := make([]SeqID, 4)
	b.ReportAllocs()
	for b.Loop() {
		best := beams[0]
		next[0] = best
		for i := 1; i < 4; i++ {
			next[i], _ = m.Fork(best)
			_ = m.Free(beams[i])
		}
		beams, next = next, beams
		var err error
		if copies, err = m.DecodeStep(beams, toks, 0, slots, copies[:0]); err != nil {
			b.Fatal(err)
		}
		_ = m.MarkComputedBatch(beams, 1)
		if st, _ := m.State(beams[0]); st.Tokens > 1900 {
			b.StopTimer()
			for _, id := range beams {
				_ = m.Free(id)
			}
			root, _ = prefill(b, m, span(0, 500), SeqOptions{})
			beams[0] = root
			for i := 1; i < 4; i++ {
				beams[i], _ = m.Fork(root)
			}
			b.StartTimer()
		}
	}
}
