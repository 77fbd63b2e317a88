package paged

import (
	"testing"
	"time"
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

// admission benchmarks: a 2,048-token prompt whose first 1,024 tokens are cached
// (held by a running sequence), admitted in one 2,048-token chunk and freed. ns/op is
// the admission plus the Free; the prompts are added outside the timer.
func benchAdmission(b *testing.B, admit func(m *Manager, id SeqID) (Admitted, error)) {
	m := newMgr(b, 8192, 16)
	prefill(b, m, span(0, 1024), SeqOptions{})
	prompt := cat(span(0, 1024), span(5000, 1024))
	ids := make([]SeqID, 0, 256)
	refill := func() {
		ids = ids[:0]
		for range cap(ids) {
			id, _ := m.Add(prompt, SeqOptions{})
			ids = append(ids, id)
		}
	}
	refill()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(ids) {
			b.StopTimer()
			refill()
			i = 0
			b.StartTimer()
		}
		adm, err := admit(m, ids[i])
		if err != nil || adm.Admission != AdmitNow || adm.Claimed != 1024 {
			b.Fatal(adm, err)
		}
		_ = m.Free(ids[i])
		i++
	}
}

// BenchmarkAdmit admits with the one-call Admit: one lock, one walk of the chain.
func BenchmarkAdmit(b *testing.B) {
	benchAdmission(b, func(m *Manager, id SeqID) (Admitted, error) { return m.Admit(id, 2048, 0, nil) })
}

// BenchmarkAdmitThreeCalls admits the way the simulator did before Admit:
// CanAdmitSequence, CachedPrefix, Reserve — three locks, three walks.
func BenchmarkAdmitThreeCalls(b *testing.B) {
	benchAdmission(b, func(m *Manager, id SeqID) (Admitted, error) { return oldAdmit(m, id, 2048) })
}

// decodeSteps is the decode step of bench.ManagerDecodeStep (n running sequences:
// DecodeStep, then MarkComputedBatch; every 16th step registers a block per sequence
// and evicts an old one) with a Config hook, plus a TakeEvents drain per step when
// events are on, as a KV-event publisher would. decodestep-ns/op is DecodeStep alone.
func decodeSteps(b *testing.B, n int, mod func(*Config)) {
	const promptLen, maxLen = 100, 2000
	m := newMgr(b, n*(maxLen/16+2), 16, mod)
	ids := make([]SeqID, n)
	start := func(i int) {
		id, _ := m.Add(span(i*7919, promptLen), SeqOptions{Capacity: maxLen + 1})
		adm, _ := m.Admit(id, promptLen, 0, nil) // restarts hit their own cached blocks
		if err := m.MarkComputed(id, adm.N); err != nil {
			b.Fatal(err)
		}
		ids[i] = id
	}
	for i := range n {
		start(i)
	}
	toks, slots := make([]int32, n), make([]int64, n)
	var copies []BlockCopy
	var events []Event
	steps, drained := 0, 0
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
		_ = m.MarkComputedBatch(ids, 1)
		var lost uint64
		events, lost = m.TakeEvents(events[:0])
		if lost > 0 {
			b.Fatal("events lost")
		}
		drained += len(events)
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
	b.ReportMetric(float64(decodeOnly.Nanoseconds())/float64(b.N), "decodestep-ns/op")
	b.ReportMetric(float64(drained)/float64(b.N), "events/op")
}

// BenchmarkDecodeStep256NoEvents is the decode step of 256 sequences, events off.
func BenchmarkDecodeStep256NoEvents(b *testing.B) { decodeSteps(b, 256, nil) }

// BenchmarkDecodeStep256Events is the same with vLLM-form events queued and drained.
func BenchmarkDecodeStep256Events(b *testing.B) { decodeSteps(b, 256, eventsOn(false)) }
