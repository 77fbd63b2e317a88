package paged_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/paged"
)

// run admits a prompt whole, computes it and frees it; it returns the admission.
func run(m *paged.Manager, prompt []int32, opts paged.SeqOptions) paged.Admitted {
	id, _ := m.Add(prompt, opts)
	adm, _ := m.Admit(id, len(prompt), 0, nil)
	_ = m.MarkComputed(id, adm.N)
	_ = m.Free(id)
	return adm
}

func tokens(from, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(from + i)
	}
	return out
}

// A host prefix cache (write-back): a cached block evicted from the device is copied
// to the host by the call that reuses it (a DeviceToHost copy ahead of the copies
// that write the block), and a returning prompt finds it there: the admission
// onloads it (a HostToDevice copy) instead of recomputing it. The device block it
// onloads into was just evicted: its own offload comes first in the list.
func ExampleManager_LookupPromptTiers() {
	m, _ := paged.New(paged.Config{NumBlocks: 4, BlockSize: 4, DisableWatermark: true,
		HostBlocks: 8, HostCache: paged.HostCacheOptions{Policy: paged.WriteBack}})
	chat := tokens(0, 9) // blocks [0..3] [4..7] and one more token
	run(m, chat, paged.SeqOptions{})
	other := run(m, tokens(100, 12), paged.SeqOptions{}) // needs 3 blocks: evicts one
	fmt.Println("offloads:", other.Copies)

	hit, _ := m.LookupPromptTiers(chat, paged.SeqOptions{})
	fmt.Printf("device %d host %d tokens\n", hit.Device, hit.Host)
	back := run(m, append(chat, 50, 51), paged.SeqOptions{}) // the conversation goes on
	fmt.Println("claimed:", back.Claimed, "onloaded:", back.Onloaded)
	for _, c := range back.Copies {
		fmt.Println(c.Dir, c.Src, "->", c.Dst)
	}
	// Output:
	// offloads: [{1 0 d2h}]
	// device 4 host 4 tokens
	// claimed: 8 onloaded: 4
	// d2h 1 -> 1
	// h2d 0 -> 1
	// d2h 3 -> 2
}

// Retention priorities: a system prompt kept at priority 50 outlives default-priority
// prompts released after it, until its priority expires on the logical clock.
func ExampleManager_SetClock() {
	m, _ := paged.New(paged.Config{NumBlocks: 4, BlockSize: 4, DisableWatermark: true})
	run(m, tokens(0, 5), paged.SeqOptions{Priority: 50, PriorityDuration: 100}) // block 0
	run(m, tokens(100, 5), paged.SeqOptions{})                                  // block 2
	q := m.FreeQueue(nil)
	fmt.Println("evicted last:", q[len(q)-1])
	_ = m.SetClock(100) // the priority decays: block 0 joins the default LRU
	run(m, tokens(200, 5), paged.SeqOptions{})
	q = m.FreeQueue(nil)
	fmt.Println("evicted last:", q[len(q)-1])
	// Output:
	// evicted last: 0
	// evicted last: 2
}

// Pins keep a prefix on the device until Unpin, within MaxPinnedFraction of the pool.
func ExampleManager_Pin() {
	m, _ := paged.New(paged.Config{NumBlocks: 8, BlockSize: 4})
	system := tokens(0, 8)
	run(m, append(system, 1), paged.SeqOptions{})
	pin, n, err := m.Pin(system, paged.SeqOptions{})
	fmt.Println("pinned tokens:", n, err, "pinned blocks:", m.Stats().PinnedBlocks)
	_, _, err = m.Pin(tokens(500, 8), paged.SeqOptions{})
	fmt.Println(err)
	fmt.Println(m.Unpin(pin), m.Stats().PinnedBlocks)
	// Output:
	// pinned tokens: 8 <nil> pinned blocks: 2
	// paged: prompt not cached: no block of the 8-token prompt is cached on the device
	// <nil> 0
}

// CanSwapIn is the scheduler's question before SwapIn: now, later or never.
func ExampleManager_CanSwapIn() {
	m, _ := paged.New(paged.Config{NumBlocks: 4, BlockSize: 4, DisableWatermark: true, HostBlocks: 4})
	id, _ := m.Add(tokens(0, 8), paged.SeqOptions{})
	adm, _ := m.Admit(id, 8, 0, nil)
	_ = m.MarkComputed(id, adm.N)
	_, _ = m.SwapOut(id, nil)
	now, _ := m.CanSwapIn(id, 0)
	never, _ := m.CanSwapIn(id, 9) // 2 blocks + 3 for the lookahead: more than the device
	fmt.Println(now, never)
	// Output:
	// now never
}
