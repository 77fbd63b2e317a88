package paged_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/paged"
)

// The life of a sequence, as in the package documentation: admit a prompt, prefill
// it, decode two tokens, drain the cache events, and share the prompt's cached blocks
// with a second request.
func Example() {
	m, _ := paged.New(paged.Config{NumBlocks: 8, BlockSize: 4, Events: paged.EventOptions{Enabled: true}})

	prompt := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	id, _ := m.Add(prompt, paged.SeqOptions{})
	adm, _ := m.Admit(id, len(prompt), 0, nil) // one lookup: hit, watermark, claim, reserve
	fmt.Println("admission:", adm.Admission, "cached:", adm.Cached, "new:", adm.N)
	slots, _ := m.SlotMapping(id, adm.Start, adm.Start+adm.N, nil)
	fmt.Println("prefill slots:", slots)
	// ... the engine performs adm.Copies, writes K/V into the slots, runs attention ...
	_ = m.MarkComputed(id, adm.N) // blocks 0 and 1 are full: now shareable

	// Decode: DecodeStep appends the sampled token, reserves its slot and maps it.
	ids, step := []paged.SeqID{id}, make([]int64, 1)
	var copies []paged.BlockCopy
	var tables [][]int32
	for _, tok := range []int32{42, 43} {
		copies, _ = m.DecodeStep(ids, []int32{tok}, 0, step, copies[:0])
		tables, _ = m.BlockTables(ids, tables)
		fmt.Println("decode slot:", step[0], "table:", tables[0])
		_ = m.MarkComputedBatch(ids, 1)
	}
	// Position 11 completed block 2: three blocks were stored.
	events, lost := m.TakeEvents(nil)
	for _, e := range events {
		fmt.Println(e.Kind, len(e.Hashes), "blocks from block", e.FirstBlock, "lost", lost)
	}

	// A second request with the same first 8 tokens hits two cached blocks.
	b, _ := m.Add([]int32{1, 2, 3, 4, 5, 6, 7, 8, 99}, paged.SeqOptions{})
	adm, _ = m.Admit(b, 9, 0, nil)
	tb, _ := m.BlockTable(b, nil)
	fmt.Println("cached:", adm.Cached, "start:", adm.Start, "table:", tb)

	_ = m.Free(id)
	_ = m.Free(b)
	st := m.Stats()
	fmt.Printf("free %d/%d, hit rate %.2f\n", st.FreeBlocks, st.NumBlocks, st.HitRate)
	// Output:
	// admission: now cached: 0 new: 10
	// prefill slots: [0 1 2 3 4 5 6 7 8 9]
	// decode slot: 10 table: [0 1 2]
	// decode slot: 11 table: [0 1 2]
	// BlockStored 2 blocks from block 0 lost 0
	// BlockStored 1 blocks from block 2 lost 0
	// cached: 8 start: 8 table: [0 1 3]
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
	// copies: [{1 2 d2d}]
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

// Admission in one call: the scheduler adds a request once and asks Admit each step
// until it is admitted (AdmitNow: hits claimed, the chunk reserved), rejects it
// (AdmitNever), or keeps it waiting (AdmitLater: nothing changed).
func ExampleManager_Admit() {
	m, _ := paged.New(paged.Config{NumBlocks: 8, BlockSize: 4, Watermark: 0.25}) // keep 2 blocks free
	running, _ := m.Add([]int32{1, 2, 3, 4, 5, 6, 7, 8, 9}, paged.SeqOptions{})
	adm, _ := m.Admit(running, 512, 0, nil)
	_ = m.MarkComputed(running, adm.N)

	// Shares the first two blocks; 16 tokens need 4 blocks, 2 of them hits held by
	// the running sequence: 2 new blocks leave 3 free ≥ 2.
	next, _ := m.Add([]int32{1, 2, 3, 4, 5, 6, 7, 8, 20, 21, 22, 23, 24, 25, 26, 27}, paged.SeqOptions{})
	adm, _ = m.Admit(next, 4, 0, nil) // a 4-token prefill chunk
	fmt.Println(adm.Admission, "cached", adm.Cached, "compute", adm.Start, "to", adm.Start+adm.N)

	big, _ := m.Add(make([]int32, 20), paged.SeqOptions{})
	adm, _ = m.Admit(big, 512, 0, nil)
	fmt.Println(adm.Admission)
	huge, _ := m.Add(make([]int32, 40), paged.SeqOptions{})
	adm, _ = m.Admit(huge, 512, 0, nil)
	fmt.Println(adm.Admission)
	// Output:
	// now cached 8 compute 8 to 12
	// later
	// never
}

// A KV-event publisher drains the queue after each step; a loss means its
// subscribers must forget this engine (vLLM's AllBlocksCleared) and start over.
func ExampleManager_TakeEvents() {
	m, _ := paged.New(paged.Config{NumBlocks: 4, BlockSize: 2,
		Events: paged.EventOptions{Enabled: true, QueueSize: 2}})
	publish := func() {
		events, lost := m.TakeEvents(nil)
		for _, e := range events {
			fmt.Println(e.Kind, len(e.Hashes), "hashes", "parent", e.HasParent, "tokens", e.Tokens, e.Medium)
		}
		if lost > 0 {
			fmt.Println("lost", lost, "events: publish AllBlocksCleared and resynchronise")
		}
	}
	for _, prompt := range [][]int32{{1, 2, 3}, {5, 6, 7}, {8, 9, 10}} {
		id, _ := m.Add(prompt, paged.SeqOptions{})
		adm, _ := m.Admit(id, 3, 0, nil)
		_ = m.MarkComputed(id, adm.N)
		_ = m.Free(id)
	}
	publish()
	// Output:
	// BlockStored 1 hashes parent false tokens [1 2] GPU
	// BlockStored 1 hashes parent false tokens [5 6] GPU
	// lost 1 events: publish AllBlocksCleared and resynchronise
}

// Per-iteration bookkeeping under one lock each: the block tables of a batch for the
// attention kernel, and every sequence's counters for metrics.
func ExampleManager_SeqStates() {
	m, _ := paged.New(paged.Config{NumBlocks: 16, BlockSize: 4})
	a, _ := m.Add([]int32{1, 2, 3, 4, 5, 6}, paged.SeqOptions{})
	adm, _ := m.Admit(a, 6, 0, nil)
	_ = m.MarkComputed(a, adm.N)
	b, _ := m.Fork(a) // shares both blocks
	ids := []paged.SeqID{a, b}

	tables, _ := m.BlockTables(ids, nil)
	states, _ := m.SeqStates(ids, nil)
	for i := range ids {
		fmt.Println("table", tables[i], "computed", states[i].Computed, "frontier block", states[i].Frontier)
	}
	fmt.Println("blocks in use:", m.Stats().UsedBlocks)
	// Output:
	// table [0 1] computed 6 frontier block 1
	// table [0 1] computed 6 frontier block 1
	// blocks in use: 2
}
