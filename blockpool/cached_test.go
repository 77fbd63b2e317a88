package blockpool

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCachedKey(t *testing.T) {
	p := newPool(t, 4, 2, nil)
	ids, err := p.Allocate(nil, 3)
	require.NoError(t, err)
	_, _, ok := p.CachedKey(ids[0])
	require.False(t, ok, "an uncached block has no key")
	for _, id := range []BlockID{-1, 4, 1 << 20} {
		_, _, ok := p.CachedKey(id)
		require.False(t, ok, "out of range id %d", id)
	}

	k0 := Key{Hash: 7, Parent: 0, Tokens: []int32{1, 2}, Extra: 9}
	_, err = p.Cache(ids[0], k0, 11)
	require.NoError(t, err)
	k1 := Key{Hash: 8, Parent: p.Identity(ids[0]), Tokens: []int32{3, 4}}
	_, err = p.Cache(ids[1], k1, 12)
	require.NoError(t, err)

	got, ident, ok := p.CachedKey(ids[1])
	require.True(t, ok)
	require.Equal(t, k1, got)
	require.Equal(t, uint64(12), ident)
	got0, ident0, ok := p.CachedKey(ids[0])
	require.True(t, ok)
	require.Equal(t, k0, got0)
	require.Equal(t, got.Parent, ident0, "the child's parent is the identity of the block it was cached under")

	// Evicting the parent leaves no block carrying the child's parent identity.
	require.NoError(t, p.Release(ids))
	must(t, p)
	_, err = p.Allocate(nil, 4) // reuses every block, evicting both
	require.NoError(t, err)
	_, _, ok = p.CachedKey(ids[1])
	require.False(t, ok)
	require.Zero(t, p.Identity(ids[0]))
}
