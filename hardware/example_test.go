package hardware_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/hardware"
)

// Size the KV cache of Llama-3-8B on one A100-80GB and time a decode step.
func ExampleDeployment() {
	d := hardware.Default()
	d.Model, _ = hardware.LookupModel("llama-3-8b")
	d.GPU, _ = hardware.LookupGPU("a100-80")
	if err := d.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d KB of KV per token, %d tokens fit\n", int(d.KVBytesPerTokenPerGPU())/1024, d.KVSlots())
	fmt.Printf("a decode step of 64 sequences with 2K context each: %.1f ms\n", 1000*d.IterationTime(64, 64*2048))
	d.TP = 3
	fmt.Println(d.Validate())
	// Output:
	// 128 KB of KV per token, 467295 tokens fit
	// a decode step of 64 sequences with 2K context each: 32.4 ms
	// hardware: invalid deployment: tensor-parallel degree 3 must divide Llama-3-8B's 32 attention heads
}

// Swapping 1,024 tokens of OPT-13B's KV out to the host: in blocks of 1 token the
// engine issues 81,920 copies (one per block per layer for K and V), in blocks of 64
// only 1,280.
func ExampleDeployment_HostCopyTime() {
	d := hardware.Default()
	for _, bs := range []int{1, 16, 64} {
		fmt.Printf("block %2d: %5.1f ms\n", bs, 1000*d.HostCopyTime(1024/bs, bs))
	}
	// Output:
	// block  1: 443.2 ms
	// block 16:  59.2 ms
	// block 64:  40.0 ms
}
