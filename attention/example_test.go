package attention_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/attention"
)

// Write three tokens of one sequence through its slot mapping (block table [3 1],
// block size 2: slots 6, 7, 2) and decode the third token's query. The query matches
// the second key strongly, so the output is close to the second value.
func Example() {
	c, _ := attention.NewCache(attention.Config{Layers: 1, KVHeads: 1, HeadDim: 2,
		BlockSize: 2, NumBlocks: 8, DType: attention.Float32})
	keys := []float32{1, 0, 0, 1, 0, 0}
	values := []float32{10, 0, 0, 20, 5, 5}
	if err := c.Write(0, []int64{6, 7, 2}, keys, values); err != nil {
		fmt.Println(err)
	}
	k := attention.NewKernel(1)
	defer k.Close()
	q := []float32{0, 20}
	out := make([]float32, 2)
	err := k.Decode(c, 0, attention.Params{QHeads: 1}, q, [][]int32{{3, 1}}, []int{3}, out)
	fmt.Printf("%v %.2f %.2f\n", err, out[0], out[1])
	// Output: <nil> 0.00 20.00
}

// Shard a model's 8 KV heads (32 query heads) over 4 tensor-parallel ranks: each
// rank's cache holds 2 KV heads and its kernels compute 8 query heads.
func ExampleConfig_KVHeadRange() {
	for rank := range 4 {
		cfg := attention.Config{KVHeads: 8, HeadDim: 128, NumBlocks: 1024, TPSize: 4, TPRank: rank}
		kf, kn := cfg.KVHeadRange()
		qf, qn := cfg.QHeadRange(32)
		fmt.Printf("rank %d: KV heads %d–%d, query heads %d–%d, %d bytes per token per layer\n",
			rank, kf, kf+kn-1, qf, qf+qn-1, cfg.BytesPerToken())
	}
	// Output:
	// rank 0: KV heads 0–1, query heads 0–7, 2048 bytes per token per layer
	// rank 1: KV heads 2–3, query heads 8–15, 2048 bytes per token per layer
	// rank 2: KV heads 4–5, query heads 16–23, 2048 bytes per token per layer
	// rank 3: KV heads 6–7, query heads 24–31, 2048 bytes per token per layer
}

// Force the portable kernels (as PAGEDKV_ATTN_PATH=portable does at start-up), then
// restore the path that was selected ("auto" picks the fastest this CPU runs).
func ExampleSetPath() {
	prev := attention.Path()
	if err := attention.SetPath("portable"); err != nil {
		fmt.Println(err)
	}
	fmt.Println(attention.Path())
	_ = attention.SetPath(prev)
	// Output: portable
}
