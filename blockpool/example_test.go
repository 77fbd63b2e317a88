package blockpool_test

import (
	"fmt"

	"github.com/pagedkv/pagedkv/blockpool"
)

// The free queue is the eviction order: a released cached block goes to the tail and
// stays findable until it is reused; an unhashed one goes to the head.
func Example() {
	p, _ := blockpool.New(blockpool.Config{NumBlocks: 4, BlockSize: 2})
	ids, _ := p.Allocate(nil, 2) // blocks 0 and 1
	key := blockpool.Key{Hash: 42, Parent: 0, Tokens: []int32{7, 8}}
	_, _ = p.Cache(ids[0], key, 1) // block 0 holds a full, computed block
	_ = p.ReleaseTable(ids)        // tail first: 1 (unhashed) to the head, 0 to the tail
	fmt.Println("free queue:", p.FreeOrder(nil))
	id, ok := p.Lookup(key)
	fmt.Println("hit:", id, ok)
	_ = p.Retain(id) // a prefix hit revives it
	fmt.Println("free queue:", p.FreeOrder(nil))
	// Output:
	// free queue: [1 2 3 0]
	// hit: 0 true
	// free queue: [1 2 3]
}
