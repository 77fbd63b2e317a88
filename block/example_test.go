package block_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/block"
)

// A manager's copy list names each copy's direction; an engine performs it in order
// (package attention's Cache.PerformCopies does exactly that).
func Example() {
	copies := []block.Copy{
		{Src: 7, Dst: 3, Dir: block.DeviceToHost}, // offload: device 7 → host 3
		{Src: 5, Dst: 7, Dir: block.HostToDevice}, // onload into the block just offloaded
		{Src: 2, Dst: 9}, // copy-on-write (the zero Dir)
	}
	for _, c := range copies {
		fmt.Printf("%v %d→%d\n", c.Dir, c.Src, c.Dst)
	}
	fmt.Println(block.Dir(42))
	// Output:
	// d2h 7→3
	// h2d 5→7
	// d2d 2→9
	// Dir(042)
}
