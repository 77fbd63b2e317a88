package paged

import "testing"

// hybridGroups is the 2-group model of the group benchmarks: full attention and a
// 512-token sliding window (Gemma 2's shape, a shorter window), with twice the
// blocks (two tables per sequence).
func hybridGroups(c *Config) {
	twoGroups(c)
	c.NumBlocks *= 2
}

// twoGroups sets the 2-group model without changing the pool.
func twoGroups(c *Config) { c.Groups = []KVGroup{fullGroup(), sw(512)} }

// BenchmarkDecodeStep256Groups is BenchmarkDecodeStep256NoEvents on the 2-group
// model: every step appends, reserves and slots in both groups' tables, and the
// window releases a block per sequence every 16 steps once it is full.
func BenchmarkDecodeStep256Groups(b *testing.B) { decodeSteps(b, 256, hybridGroups) }

// BenchmarkLookupPrompt2048Groups is BenchmarkLookupPrompt2048 on the 2-group model
// (the same pool): hashing, the full group's walk and the window's scan.
func BenchmarkLookupPrompt2048Groups(b *testing.B) {
	m := newMgr(b, 4096, 16, twoGroups)
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
