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

// Retention levels: a block released at a higher level outlives default ones until
// its level expires on the pool's logical clock.
func ExamplePool_ReleaseWith() {
	p, _ := blockpool.New(blockpool.Config{NumBlocks: 4, BlockSize: 1, Levels: 2})
	ids, _ := p.Allocate(nil, 4)
	for i, id := range ids {
		_, _ = p.Cache(id, blockpool.Key{Hash: uint64(i), Tokens: []int32{int32(i)}}, uint64(i+1))
	}
	_ = p.ReleaseWith(ids[:1], blockpool.Retention{Level: 1, Expiry: 10}) // a system prompt
	_ = p.Release(ids[1:3])
	fmt.Println("eviction order:", p.FreeOrder(nil))
	_ = p.SetTime(10) // block 0's level expires: it joins the default level's tail
	_ = p.Release(ids[3:])
	fmt.Println("at time 10:", p.FreeOrder(nil))
	// Output:
	// eviction order: [1 2 0]
	// at time 10: [1 2 0 3]
}
