package blockpool

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func newPool(t testing.TB, n, bs int, pol ReleasePolicy) *Pool {
	t.Helper()
	p, err := New(Config{NumBlocks: n, BlockSize: bs, Policy: pol})
	require.NoError(t, err)
	return p
}

func must(t testing.TB, p *Pool) {
	t.Helper()
	require.NoError(t, p.CheckInvariants())
}

func key(h uint64, parent uint64, toks ...int32) Key {
	return Key{Hash: h, Parent: parent, Tokens: toks}
}

func TestBlockMetadataIs64Bytes(t *testing.T) {
	require.Equal(t, uintptr(64), unsafe.Sizeof(blockMeta{}))
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{{NumBlocks: 0}, {NumBlocks: -1}, {NumBlocks: 4, BlockSize: -2}} {
		_, err := New(c)
		require.True(t, errors.Is(err, ErrInvalidConfig), "%+v", c)
	}
	p, err := New(Config{NumBlocks: 3})
	require.NoError(t, err)
	require.Equal(t, 16, p.BlockSize())
	require.Equal(t, "unhashed-first", p.Policy().String())
}

func TestAllocateInIDOrderAndAllOrNothing(t *testing.T) {
	p := newPool(t, 4, 2, nil)
	ids, err := p.Allocate(nil, 3)
	require.NoError(t, err)
	require.Equal(t, []BlockID{0, 1, 2}, ids)
	must(t, p)
	_, err = p.Allocate(nil, 2)
	require.True(t, errors.Is(err, ErrNoSpace))
	require.Equal(t, 1, p.NumFree())
	require.Equal(t, []BlockID{3}, p.FreeOrder(nil))
	_, err = p.Allocate(nil, -1)
	require.Error(t, err)
	must(t, p)
}

func TestReleasePolicies(t *testing.T) {
	cases := []struct {
		name   string
		policy ReleasePolicy
		want   []BlockID
	}{
		// Table [0 1 2 3] released tail-first; 1 and 3 are cached. Unhashed 2, 0 go to
		// the head in release order (2 then 0); cached 3, 1 to the tail.
		{"unhashed-first", UnhashedFirst{}, []BlockID{2, 0, 4, 5, 3, 1}},
		{"all-to-tail", AllToTail{}, []BlockID{4, 5, 3, 2, 1, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPool(t, 6, 1, c.policy)
			ids, _ := p.Allocate(nil, 4)
			_, err := p.Cache(1, key(11, 0, 1), fresh())
			require.NoError(t, err)
			_, err = p.Cache(3, key(13, p.Identity(1), 3), fresh())
			require.NoError(t, err)
			require.NoError(t, p.ReleaseTable(ids))
			require.Equal(t, c.want, p.FreeOrder(nil))
			must(t, p)
		})
	}
}

func TestReleaseErrorsChangeNothing(t *testing.T) {
	p := newPool(t, 4, 1, nil)
	ids, _ := p.Allocate(nil, 2)
	before := p.FreeOrder(nil)
	err := p.Release([]BlockID{ids[0], 3}) // 3 is free
	require.True(t, errors.Is(err, ErrInvalidBlock))
	err = p.Release([]BlockID{ids[0], ids[0]}) // would drop below zero
	require.True(t, errors.Is(err, ErrInvalidBlock))
	err = p.Release([]BlockID{ids[1], 99})
	require.True(t, errors.Is(err, ErrInvalidBlock))
	require.Equal(t, 1, p.RefCount(ids[0]))
	require.Equal(t, 1, p.RefCount(ids[1]))
	require.Equal(t, before, p.FreeOrder(nil))
	must(t, p)
}

func TestSharedBlockReturnsOnLastRelease(t *testing.T) {
	p := newPool(t, 3, 1, nil)
	ids, _ := p.Allocate(nil, 1)
	require.NoError(t, p.Retain(ids[0]))
	require.Equal(t, 2, p.RefCount(ids[0]))
	require.NoError(t, p.Release(ids))
	require.Equal(t, 2, p.NumFree())
	require.NoError(t, p.Release(ids))
	require.Equal(t, []BlockID{0, 1, 2}, p.FreeOrder(nil))
	must(t, p)
}

func TestLazyEvictionAndRevival(t *testing.T) {
	var evicted []uint64
	var p0 *Pool
	p, _ := New(Config{NumBlocks: 3, BlockSize: 2, OnEvict: func(e *Eviction) {
		require.True(t, e.Last)
		require.Equal(t, []int32{3, 4}, e.Key.Tokens, "the evicted block's key is readable in the hook")
		k, ident, ok := p0.CachedKey(e.ID)
		require.True(t, ok, "still cached during the hook")
		require.Equal(t, e.Ident, ident)
		require.Equal(t, e.Key.Hash, k.Hash)
		evicted = append(evicted, e.Key.Hash)
	}})
	p0 = p
	ids, _ := p.Allocate(nil, 2)
	k0 := key(100, 0, 1, 2)
	_, err := p.Cache(ids[0], k0, fresh())
	require.NoError(t, err)
	k1 := key(101, p.Identity(ids[0]), 3, 4)
	_, err = p.Cache(ids[1], k1, fresh())
	require.NoError(t, err)
	require.NoError(t, p.ReleaseTable(ids))
	require.Equal(t, []BlockID{2, 1, 0}, p.FreeOrder(nil))
	// Free cached blocks can still be hit.
	id, ok := p.Lookup(k0)
	require.True(t, ok)
	require.Equal(t, BlockID(0), id)
	require.NoError(t, p.Retain(id))
	require.Equal(t, []BlockID{2, 1}, p.FreeOrder(nil))
	id1, ok := p.Lookup(k1)
	require.True(t, ok)
	require.Equal(t, BlockID(1), id1)
	// Allocating two pops 2 (uncached) then 1 (cached): one eviction.
	_, err = p.Allocate(nil, 2)
	require.NoError(t, err)
	require.Equal(t, []uint64{101}, evicted)
	require.Equal(t, uint64(1), p.Evictions())
	_, ok = p.Lookup(k1)
	require.False(t, ok)
	must(t, p)
}

func TestLookupConfirmsTokensParentAndExtra(t *testing.T) {
	p := newPool(t, 8, 2, nil)
	ids, _ := p.Allocate(nil, 3)
	_, _ = p.Cache(ids[0], key(7, 0, 1, 2), fresh())
	// Same hash (a collision), different tokens: a miss.
	_, ok := p.Lookup(key(7, 0, 1, 3))
	require.False(t, ok)
	// Same hash and tokens, different extra keys: a miss.
	k := key(7, 0, 1, 2)
	k.Extra = 5
	_, ok = p.Lookup(k)
	require.False(t, ok)
	// Same hash and tokens, different parent: a miss.
	_, ok = p.Lookup(key(7, 999, 1, 2))
	require.False(t, ok)
	// Colliding blocks coexist under one hash; each is found by its own content.
	first, err := p.Cache(ids[1], key(7, 0, 9, 9), fresh())
	require.NoError(t, err)
	require.False(t, first)
	id, ok := p.Lookup(key(7, 0, 9, 9))
	require.True(t, ok)
	require.Equal(t, ids[1], id)
	// A child of an evicted identity misses: block 0 evicted and re-cached anew.
	child := key(8, p.Identity(ids[0]), 5, 6)
	_, _ = p.Cache(ids[2], child, fresh())
	_, ok = p.Lookup(child)
	require.True(t, ok)
	_, _, err = p.Uncache(ids[0])
	require.NoError(t, err)
	_, _ = p.Cache(ids[0], key(7, 0, 1, 2), fresh())
	child.Parent = p.Identity(ids[0])
	_, ok = p.Lookup(child)
	require.False(t, ok, "a child must not be hit through a parent that was re-cached")
	_, ok = p.Lookup(key(7, 0, 1)) // wrong length
	require.False(t, ok)
	must(t, p)
}

func TestDuplicatesReturnOldest(t *testing.T) {
	p := newPool(t, 4, 1, nil)
	ids, _ := p.Allocate(nil, 3)
	for _, id := range ids {
		_, _ = p.Cache(id, key(42, 0, 5), fresh())
	}
	require.Equal(t, 3, p.NumCached())
	require.Equal(t, 1, p.NumDistinctHashes())
	id, _ := p.Lookup(key(42, 0, 5))
	require.Equal(t, ids[0], id)
	_, last, _ := p.Uncache(ids[0])
	require.False(t, last)
	id, _ = p.Lookup(key(42, 0, 5))
	require.Equal(t, ids[1], id)
	_, _, _ = p.Uncache(ids[2])
	_, last, _ = p.Uncache(ids[1])
	require.True(t, last)
	must(t, p)
}

func TestCacheErrors(t *testing.T) {
	p := newPool(t, 2, 2, nil)
	_, err := p.Cache(0, key(1, 0, 1, 2), fresh()) // free block
	require.True(t, errors.Is(err, ErrInvalidBlock))
	ids, _ := p.Allocate(nil, 1)
	_, err = p.Cache(ids[0], key(1, 0, 1), fresh()) // wrong length
	require.True(t, errors.Is(err, ErrInvalidKey))
	_, err = p.Cache(ids[0], key(1, 0, 1, 2), fresh())
	require.NoError(t, err)
	_, err = p.Cache(ids[0], key(2, 0, 1, 2), fresh()) // already cached
	require.True(t, errors.Is(err, ErrInvalidBlock))
	_, err = p.Cache(5, key(2, 0, 1, 2), fresh())
	require.True(t, errors.Is(err, ErrInvalidBlock))
	require.Error(t, p.Retain(-1))
	_, _, err = p.Uncache(1)
	require.True(t, errors.Is(err, ErrInvalidBlock))
	must(t, p)
}

func TestResetCache(t *testing.T) {
	p := newPool(t, 3, 1, nil)
	ids, _ := p.Allocate(nil, 2)
	_, _ = p.Cache(ids[0], key(1, 0, 1), fresh())
	require.True(t, errors.Is(p.ResetCache(), ErrInUse))
	require.Equal(t, 1, p.NumCached())
	require.NoError(t, p.ReleaseTable(ids))
	order := p.FreeOrder(nil)
	require.NoError(t, p.ResetCache())
	require.Zero(t, p.NumCached())
	require.Equal(t, order, p.FreeOrder(nil))
	_, ok := p.Lookup(key(1, 0, 1))
	require.False(t, ok)
	must(t, p)
}

var identSeq uint64

// fresh returns a new block identity for Cache.
func fresh() uint64 {
	identSeq++
	return identSeq
}
