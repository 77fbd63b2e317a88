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
