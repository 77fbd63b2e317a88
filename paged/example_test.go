package paged_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/paged"
)

// The main flow: prefill a prompt, decode a few tokens, and share the prompt's cached
// blocks with a second request.
func Example() {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = 8, 4
	m, _ := paged.New(cfg)

	prompt := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	a, _ := m.Add(prompt, paged.SeqOptions{})
	res, _ := m.Reserve(a, len(prompt), 0, nil) // prefill in one chunk
	slots, _ := m.SlotMapping(a, res.Start, len(prompt), nil)
	fmt.Println("prefill slots:", slots)
	// ... the engine writes K/V into those slots and runs attention ...
	_ = m.MarkComputed(a, len(prompt))

	// Decode: append the sampled token, reserve its slot, all in one batched call.
	step := make([]int64, 1)
	_, _ = m.DecodeStep([]paged.SeqID{a}, []int32{42}, 0, step, nil)
	fmt.Println("decode slot:", step[0])
	_ = m.MarkComputedBatch([]paged.SeqID{a}, 1)

	// A second request with the same first 8 tokens hits two cached blocks.
	b, _ := m.Add([]int32{1, 2, 3, 4, 5, 6, 7, 8, 99}, paged.SeqOptions{})
	cached, _ := m.CachedPrefix(b)
	res, _ = m.Reserve(b, 9-cached, 0, nil)
	tb, _ := m.BlockTable(b, nil)
	fmt.Println("cached:", cached, "claimed:", res.Claimed, "table:", tb)

	_ = m.Free(a)
	_ = m.Free(b)
	st := m.Stats()
	fmt.Printf("free %d/%d, hit rate %.2f\n", st.FreeBlocks, st.NumBlocks, st.HitRate)
	// Output:
	// prefill slots: [0 1 2 3 4 5 6 7 8 9]
	// decode slot: 10
	// cached: 8 claimed: 8 table: [0 1 3]
	// free 8/8, hit rate 0.42
}

// Parallel sampling: fork after the prompt; the first write into the shared partial
// block copies it.
func ExampleManager_Fork() {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = 8, 4
	m, _ := paged.New(cfg)
	p, _ := m.Add([]int32{1, 2, 3, 4, 5, 6}, paged.SeqOptions{})
	_, _ = m.Reserve(p, 6, 0, nil)
	_ = m.MarkComputed(p, 6)
	c, _ := m.Fork(p)

	slots := make([]int64, 2)
	copies, _ := m.DecodeStep([]paged.SeqID{p, c}, []int32{7, 8}, 0, slots, nil)
	pt, _ := m.BlockTable(p, nil)
	ct, _ := m.BlockTable(c, nil)
	fmt.Println("copies:", copies)
	fmt.Println("parent:", pt, "child:", ct, "slots:", slots)
	// Output:
	// copies: [{1 2}]
	// parent: [0 2] child: [0 1] slots: [10 6]
}

// Admission with a watermark keeps room for running sequences to grow.
func ExampleManager_CanAdmit() {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize, cfg.Watermark = 100, 16, 0.05
	m, _ := paged.New(cfg)
	small, _ := m.CanAdmit(1000, 0)
	huge, _ := m.CanAdmit(1600, 0)
	fmt.Println(small, huge)
	// Output: now never
}
