package blockpool

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A copy cached with its source's identity keeps the source's children reachable
// after the source is evicted: this is how a chain moves between a device and a host
// pool.
func TestIdentityCarriesChildrenAcrossPools(t *testing.T) {
	dev := newPool(t, 2, 2, nil)
	host := newPool(t, 2, 2, nil)
	ids, _ := dev.Allocate(nil, 2)
	_, _ = dev.Cache(ids[0], key(1, 0, 1, 2), 7)
	_, _ = dev.Cache(ids[1], key(2, 7, 3, 4), 8)
	// Offload block 0: a host block cached under the same key and identity.
	k, ident, ok := dev.CachedKey(ids[0])
	require.True(t, ok)
	h, _ := host.Allocate(nil, 1)
	_, err := host.Cache(h[0], Key{Hash: k.Hash, Parent: k.Parent, Tokens: append([]int32(nil), k.Tokens...), Extra: k.Extra}, ident)
	require.NoError(t, err)
	require.NoError(t, host.Release(h))
	require.NoError(t, dev.Release(ids))
	_, _ = dev.Allocate(nil, 1) // block 1? no: unhashed first, then LRU: block 0 goes
	hb, ok := host.Lookup(key(1, 0, 1, 2))
	require.True(t, ok)
	child, ok := dev.Lookup(key(2, host.Identity(hb), 3, 4))
	require.True(t, ok, "the child is found through the copy's identity")
	require.Equal(t, ids[1], child)
	must(t, dev)
	must(t, host)
}

// Partial finds the block whose leading tokens match the longest prefix, among the
// children of one parent identity with equal extra keys; the oldest wins a tie.
func TestPartialLongestLeadingMatch(t *testing.T) {
	p, err := New(Config{NumBlocks: 6, BlockSize: 4, IndexChildren: true})
	require.NoError(t, err)
	ids, _ := p.Allocate(nil, 6)
	_, _ = p.Cache(ids[0], key(1, 5, 1, 2, 3, 4), fresh())
	_, _ = p.Cache(ids[1], key(2, 5, 1, 2, 9, 9), fresh())
	_, _ = p.Cache(ids[2], key(3, 5, 1, 2, 3, 8), fresh())
	_, _ = p.Cache(ids[3], key(4, 6, 1, 2, 3, 7), fresh()) // another parent
	k := key(5, 5, 1, 2, 3, 7)
	k.Extra = 9
	_, _ = p.Cache(ids[4], k, fresh()) // other extra keys
	id, n := p.Partial(5, 0, []int32{1, 2, 3, 7}, 0)
	require.Equal(t, [2]int{int(ids[0]), 3}, [2]int{int(id), n}, "0 and 2 match 3 tokens; 0 is older")
	id, n = p.Partial(5, 0, []int32{1, 2}, 0)
	require.Equal(t, [2]int{int(ids[0]), 2}, [2]int{int(id), n})
	id, n = p.Partial(6, 0, []int32{1, 2, 3, 7}, 0)
	require.Equal(t, [2]int{int(ids[3]), 4}, [2]int{int(id), n}, "a full match is a match too")
	id, n = p.Partial(5, 9, []int32{1, 2, 3, 3}, 0)
	require.Equal(t, [2]int{int(ids[4]), 3}, [2]int{int(id), n})
	id, n = p.Partial(5, 0, []int32{2, 2}, 0)
	require.Equal(t, [2]int{int(NoBlock), 0}, [2]int{int(id), n}, "the first token must match")
	id, _ = p.Partial(5, 0, []int32{1, 2, 3, 7, 1}, 0)
	require.Equal(t, NoBlock, id, "more tokens than a block")
	id, _ = p.Partial(5, 0, []int32{1}, 1)
	require.Equal(t, ids[0], id, "a scan of one candidate")
	// Evicted blocks leave the child lists.
	_, _, err = p.Uncache(ids[0])
	require.NoError(t, err)
	id, n = p.Partial(5, 0, []int32{1, 2, 3, 7}, 0)
	require.Equal(t, [2]int{int(ids[2]), 3}, [2]int{int(id), n})
	must(t, p)
	// Without the child index Partial finds nothing.
	q := newPool(t, 2, 4, nil)
	qids, _ := q.Allocate(nil, 1)
	_, _ = q.Cache(qids[0], key(1, 5, 1, 2, 3, 4), fresh())
	id, _ = q.Partial(5, 0, []int32{1, 2}, 0)
	require.Equal(t, NoBlock, id)
}
