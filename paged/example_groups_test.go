package paged_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/paged"
)

// A hybrid model (full attention and a 6-token sliding window, like Gemma 2 with a
// tiny window): one block table per group from one pool. The window group releases
// the blocks that slid out of its window, NullBlock (-1) taking their place, so a
// long sequence holds a bounded number of its blocks; a later prompt with the same
// prefix hits in both groups.
func Example_groups() {
	m, _ := paged.New(paged.Config{NumBlocks: 16, BlockSize: 2, Groups: []paged.KVGroup{
		{Kind: paged.FullAttention, BytesPerToken: 4096},
		{Kind: paged.SlidingWindow, Window: 6, BytesPerToken: 4096},
	}})
	prompt := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	id, _ := m.Add(prompt, paged.SeqOptions{})
	adm, _ := m.Admit(id, len(prompt), 0, nil)
	full, _ := m.SlotMappingGroup(id, 0, 0, 10, nil)
	window, _ := m.SlotMappingGroup(id, 1, 0, 10, nil)
	fmt.Println("full slots:  ", full)
	fmt.Println("window slots:", window)
	// ... the engine writes K/V into both groups' slots and runs attention ...
	_ = m.MarkComputed(id, adm.N)

	// Each reservation first releases what the window no longer reads: token 10
	// reads positions 5..10, so the window group's blocks 0 and 1 go.

	ids, step := []paged.SeqID{id}, make([]int64, 1)
	for _, tok := range []int32{11, 12} {
		_, _ = m.DecodeStep(ids, []int32{tok}, 0, step, nil) // group 0's slot
		other := make([]int64, 1)
		_ = m.DecodeSlotsGroup(ids, 1, other) // group 1's slot
		t0, _ := m.BlockTableGroup(id, 0, nil)
		t1, _ := m.BlockTableGroup(id, 1, nil)
		fmt.Println("slots", step[0], other[0], "tables", t0, t1)
		_ = m.MarkComputedBatch(ids, 1)
	}
	st := m.Stats()
	fmt.Println("used", st.UsedBlocks, "released", st.WindowReleases, "block bytes", m.Config().BlockBytes())

	// The same prefix again: full attention needs all 5 blocks, the window only the
	// last 3 before the hit (ceil((6−1)/2)), block 7 among them: released, still
	// cached, revived.
	next, _ := m.Add(append(prompt, 99), paged.SeqOptions{})
	adm, _ = m.Admit(next, 11, 0, nil)
	t1, _ := m.BlockTableGroup(next, 1, nil)
	fmt.Println("cached", adm.Cached, "window table", t1)
	// Output:
	// full slots:   [0 1 2 3 4 5 6 7 8 9]
	// window slots: [10 11 12 13 14 15 16 17 18 19]
	// slots 20 22 tables [0 1 2 3 4 10] [-1 -1 7 8 9 11]
	// slots 21 23 tables [0 1 2 3 4 10] [-1 -1 -1 8 9 11]
	// used 9 released 3 block bytes 8192
	// cached 10 window table [-1 -1 7 8 9 13]
}
