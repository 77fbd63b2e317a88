package paged

import (
	"testing"
	"time"
)

// BenchmarkDecodeStep256 is one decode step of 256 running sequences: append one token
// each, reserve its slot and produce the slot mapping (DecodeStep), then mark the
// tokens computed (MarkComputedBatch; every 16th step this registers a full block in
// the prefix cache, evicting an old one). decodestep-ns/op is DecodeStep alone. Sequences are freed and re-prefilled outside
// the timer when they approach their capacity.
func BenchmarkDecodeStep256(b *testing.B) { benchDecode(b, 256) }

// BenchmarkDecodeStep1024 is the same with 1,024 sequences.
func BenchmarkDecodeStep1024(b *testing.B) { benchDecode(b, 1024) }

func benchDecode(b *testing.B, n int) {
	const promptLen, maxLen = 100, 2000
	m := newMgr(b, n*(maxLen/16+2), 16)
	ids := make([]SeqID, n)
	start := func(i int) {
		id, err := m.Add(span(i*7919, promptLen), SeqOptions{Capacity: maxLen + 1})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Reserve(id, promptLen, 0, nil); err != nil {
			b.Fatal(err)
		}
		_ = m.MarkComputed(id, promptLen)
		ids[i] = id
	}
	for i := range n {
		start(i)
	}
	toks := make([]int32, n)
	slots := make([]int64, n)
	var copies []BlockCopy
	steps := 0
	var decodeOnly time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range toks {
			toks[i] = int32(steps + i)
		}
		var err error
		t0 := time.Now()
		if copies, err = m.DecodeStep(ids, toks, 0, slots, copies[:0]); err != nil {
			b.Fatal(err)
		}
		decodeOnly += time.Since(t0)
		if err := m.MarkComputedBatch(ids, 1); err != nil {
			b.Fatal(err)
		}
		if steps++; promptLen+steps >= maxLen {
			b.StopTimer()
			for i, id := range ids {
				_ = m.Free(id)
				start(i)
			}
			steps = 0
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/seq")
	b.ReportMetric(float64(decodeOnly.Nanoseconds())/float64(b.N), "decodestep-ns/op")
}

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
