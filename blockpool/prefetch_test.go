package blockpool

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// poolState is everything a caller can observe of a pool's blocks.
type poolState struct {
	free                      []BlockID
	refs, idents, hashes      []uint64
	cached, numFree, distinct int
	evictions                 uint64
}

func observe(p *Pool) poolState {
	st := poolState{free: p.FreeOrder(nil), cached: p.NumCached(), numFree: p.NumFree(),
		distinct: p.NumDistinctHashes(), evictions: p.Evictions()}
	for id := range BlockID(p.NumBlocks()) {
		h, _ := p.Hash(id)
		st.refs = append(st.refs, uint64(p.RefCount(id)))
		st.idents = append(st.idents, p.Identity(id))
		st.hashes = append(st.hashes, h)
	}
	return st
}

// PrefetchCache changes nothing, whatever the block, hash and group, cached or not,
// an out-of-range id included; and
// Allocate, which prefetches the index slots of the blocks it is about to evict,
// evicts exactly the head of the free queue, in order, however many it takes.
func TestPrefetchChangesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	p := newPool(t, 100, 2, nil)
	ids, err := p.Allocate(nil, 100)
	require.NoError(t, err)
	for i, id := range ids {
		_, err := p.Cache(id, Key{Hash: mix64(uint64(i % 60)), Parent: uint64(i % 3), Tokens: []int32{int32(i), 1}, Group: uint32(i % 2)}, fresh())
		require.NoError(t, err)
	}
	require.NoError(t, p.ReleaseTable(ids[:70]))
	before := observe(p)
	for range 1000 {
		p.PrefetchCache(BlockID(r.IntN(110)-5), r.Uint64(), r.Uint32())
		p.PrefetchCache(BlockID(r.IntN(100)), mix64(uint64(r.IntN(60))), uint32(r.IntN(3)))
	}
	require.Equal(t, before, observe(p))
	must(t, p)

	for _, n := range []int{1, 17, 40, 12} { // runs across prefetch windows
		head := p.FreeOrder(nil)[:n]
		got, err := p.Allocate(nil, n)
		require.NoError(t, err)
		require.Equal(t, head, got)
		for _, id := range got {
			_, cached := p.Hash(id)
			require.False(t, cached)
		}
		must(t, p)
	}
	require.Empty(t, p.FreeOrder(nil))
}
