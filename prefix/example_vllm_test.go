package prefix_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/prefix"
)

// A router reproduces the block hashes of a vLLM engine started with
// PYTHONHASHSEED=0 and --prefix-caching-hash-algo sha256_cbor. The prompt is the start
// of vLLM's golden case seed0_bs16_plain; its first block's digest and KV-event id
// are those vLLM computes.
func ExampleVLLM() {
	s, err := prefix.New(prefix.Config{
		BlockSize: 16,
		Hasher:    prefix.VLLM{Algo: prefix.SHA256CBOR, PythonHashSeed: "0"},
	})
	if err != nil {
		panic(err)
	}
	prompt := []int32{151643, 0, 1, 23, 24, 255, 256, 65535, 65536, 128000, 151645, 198, 872, 9707, 11, 42, 100, 101}
	c := s.NewChain(prefix.Extras{})
	fmt.Println("full blocks:", c.Extend(prompt))
	fmt.Printf("digest:   %x\n", c.AppendDigest(nil, 0))
	fmt.Println("event id:", uint64(c.Hash(0)))
	// Output:
	// full blocks: 1
	// digest:   9981fcc86472abb8bee6dc91e58b57c7c89e5653760e74215226cc1787075aac
	// event id: 5919643161646815916
}
