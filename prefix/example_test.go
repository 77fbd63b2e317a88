package prefix_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/prefix"
)

// Two prompts that share their first 8 tokens share the hashes of their first two
// blocks; the third block differs, and a partial block is never hashed.
func Example() {
	s, _ := prefix.New(prefix.Config{BlockSize: 4})
	a := s.NewChain(prefix.Extras{})
	b := s.NewChain(prefix.Extras{})
	a.Extend([]int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	b.Extend([]int32{1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0})
	for i := 0; i < 3; i++ {
		fmt.Printf("block %d shared: %v\n", i, a.Hash(i) == b.Hash(i))
	}
	fmt.Println("hashed blocks:", a.Len())
	// Output:
	// block 0 shared: true
	// block 1 shared: true
	// block 2 shared: false
	// hashed blocks: 3
}
