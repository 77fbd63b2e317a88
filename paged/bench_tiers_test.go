package paged

import "testing"

// BenchmarkLookupPromptTiers2048 looks up a 2,048-token prompt whose first 1,024
// tokens are cached on the device and the rest in the host tier (offloaded when a
// running sequence evicted them), hashing included: the lookup walks both tiers.
func BenchmarkLookupPromptTiers2048(b *testing.B) {
	m := newMgr(b, 192, 16, noWatermark, hostCache(WriteBack, 256))
	prompt := span(0, 2048)
	id, _ := prefill(b, m, prompt, SeqOptions{})
	_ = m.Free(id) // tail first: blocks 127..0 join the LRU tail
	other, err := m.Add(span(100000, 2048), SeqOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Reserve(other, 2048, 0, nil); err != nil { // 64 unused + the 64 tail blocks
		b.Fatal(err)
	}
	h, _ := m.LookupPromptTiers(prompt, SeqOptions{})
	if h != (PrefixHit{Tokens: 2032, Device: 1024, Host: 1008}) {
		b.Fatalf("%+v", h)
	}
	b.ReportAllocs()
	for b.Loop() {
		if h, _ := m.LookupPromptTiers(prompt, SeqOptions{}); h.Tokens != 2032 {
			b.Fatal(h)
		}
	}
}

// offloadBench admits 1,025-token prompts into a device that holds one of them:
// each admission evicts the previous prompt's 64 cached blocks. With hostCache the
// evictions are offloaded (64 DeviceToHost copies per admission: a host large
// enough that every prompt is new to it, LRU-evicting old copies). ns/block is per
// evicted block.
func offloadBench(b *testing.B, mod func(*Config)) {
	m := newMgr(b, 66, 16, noWatermark, mod)
	var copies []BlockCopy
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		id, _ := m.Add(span(i*2000, 1025), SeqOptions{Capacity: 1026})
		i++
		b.StartTimer()
		adm, err := m.Admit(id, 1025, 0, copies[:0])
		if err != nil || adm.Admission != AdmitNow || adm.Claimed != 0 {
			b.Fatal(adm, err)
		}
		copies = adm.Copies
		_ = m.MarkComputed(id, adm.N)
		_ = m.Free(id)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/64, "ns/block")
}

// BenchmarkEvictNoHostCache is the baseline: the same admissions, evictions dropped.
func BenchmarkEvictNoHostCache(b *testing.B) { offloadBench(b, nil) }

// BenchmarkOffloadPerBlock produces the offload copy list (write-back).
func BenchmarkOffloadPerBlock(b *testing.B) { offloadBench(b, hostCache(WriteBack, 1024)) }

// BenchmarkOnloadPerBlock alternates two 1,025-token prompts on a device that holds
// one: each admission onloads the other's 64 blocks from the host tier (64
// HostToDevice copies) and evicts the previous prompt's blocks, whose host copies
// exist (inclusive tiers: no offload). The prompt's first block stays on the device
// (it was released last), so 63 blocks are onloaded; ns/block is per claimed block.
func BenchmarkOnloadPerBlock(b *testing.B) {
	m := newMgr(b, 66, 16, noWatermark, hostCache(WriteBack, 256))
	prompts := [2][]int32{span(0, 1025), span(5000, 1025)}
	for i := range 4 { // warm: both in the host tier, everything with a host copy
		id, _ := prefill(b, m, prompts[i%2], SeqOptions{})
		_ = m.Free(id)
	}
	var copies []BlockCopy
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		id, _ := m.Add(prompts[i%2], SeqOptions{Capacity: 1026})
		i++
		b.StartTimer()
		adm, err := m.Admit(id, 1025, 0, copies[:0])
		if err != nil || adm.Admission != AdmitNow || adm.Claimed != 1024 || adm.Onloaded < 1008 {
			b.Fatal(adm, err)
		}
		copies = adm.Copies
		_ = m.MarkComputed(id, adm.N)
		_ = m.Free(id)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/64, "ns/block")
}
