package blockpool

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCachedKey(t *testing.T) {
	p := newPool(t, 4, 2, nil)
	ids, err := p.Allocate(nil, 3)
	require.NoError(t, err)
	_, ok := p.CachedKey(ids[0])
	require.False(t, ok, "an uncached block has no key")
	for _, id := range []BlockID{-1, 4, 1 << 20} {
		_, ok := p.CachedKey(id)
		require.False(t, ok, "out of range id %d", id)
	}

	k0 := Key{Hash: 7, Parent: Root, Tokens: []int32{1, 2}, Extra: 9}
	_, err = p.Cache(ids[0], k0)
	require.NoError(t, err)
	k1 := Key{Hash: 8, Parent: p.Ref(ids[0]), Tokens: []int32{3, 4}}
	_, err = p.Cache(ids[1], k1)
	require.NoError(t, err)

	got, ok := p.CachedKey(ids[1])
	require.True(t, ok)
	require.Equal(t, k1, got)
	got0, ok := p.CachedKey(ids[0])
	require.True(t, ok)
	require.Equal(t, k0, got0)
	require.Equal(t, got.Parent, p.Ref(ids[0]), "the parent is still cached with the same content")

	// Evicting the parent makes the child's parent reference stale.
	require.NoError(t, p.Release(ids))
	must(t, p)
	_, err = p.Allocate(nil, 4) // reuses every block, evicting both
	require.NoError(t, err)
	_, ok = p.CachedKey(ids[1])
	require.False(t, ok)
	require.NotEqual(t, got.Parent, p.Ref(ids[0]))
}
