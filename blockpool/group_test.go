package blockpool

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The same content cached in two KV-cache groups is two cache entries: a lookup finds
// only the block of its own group, eviction reports "last" per group, and the index
// keeps its invariants even when the groups' index keys would collide.
func TestGroupsNeverMatchEachOther(t *testing.T) {
	p := newPool(t, 4, 2, nil)
	ids, _ := p.Allocate(nil, 3)
	k0 := key(5, 0, 1, 2)
	k1 := k0
	k1.Group = 1
	k2 := k0
	k2.Group = 2
	first, err := p.Cache(ids[0], k0, 1)
	require.NoError(t, err)
	require.True(t, first)
	first, err = p.Cache(ids[1], k1, 2)
	require.NoError(t, err)
	require.True(t, first, "a hash new to group 1 is new to the index")
	_, _ = p.Cache(ids[2], k2, 3)
	for g, want := range ids {
		k := k0
		k.Group = uint32(g)
		got, ok := p.Lookup(k)
		require.True(t, ok)
		require.Equal(t, want, got, "group %d", g)
		ck, _, _ := p.CachedKey(want)
		require.Equal(t, uint32(g), ck.Group)
	}
	k3 := k0
	k3.Group = 3
	_, ok := p.Lookup(k3)
	require.False(t, ok, "no block of group 3")
	must(t, p)
	// Evicting group 1's block: it was the last of group 1 although group 0 and 2
	// still carry the hash.
	var evicted []Eviction
	p.onEvict = func(e *Eviction) { c := *e; c.Key.Tokens = nil; evicted = append(evicted, c) }
	require.NoError(t, p.Release(ids[1:2]))
	_, _ = p.Allocate(nil, 2) // the never-used block, then block ids[1]
	require.Len(t, evicted, 1)
	require.Equal(t, ids[1], evicted[0].ID)
	require.True(t, evicted[0].Last)
	require.Equal(t, uint32(1), evicted[0].Key.Group)
	_, ok = p.Lookup(k1)
	require.False(t, ok)
	_, ok = p.Lookup(k0)
	require.True(t, ok)
	must(t, p)
}

// Index keys of different groups may collide (the mix is a xor): the dup list then
// holds blocks of several groups, and the group comparison keeps them apart.
func TestGroupIndexKeyCollision(t *testing.T) {
	p := newPool(t, 4, 2, nil)
	ids, _ := p.Allocate(nil, 2)
	a := key(100, 0, 1, 2)
	b := a
	b.Group = 1
	b.Hash = indexKey(a.Hash, 0) ^ indexKey(0, 1) // indexKey(b.Hash, 1) == indexKey(a.Hash, 0)
	require.Equal(t, indexKey(a.Hash, 0), indexKey(b.Hash, 1))
	_, _ = p.Cache(ids[0], a, 1)
	first, _ := p.Cache(ids[1], b, 2)
	require.True(t, first, "the colliding key shares a dup list but is new to its group")
	require.Equal(t, 1, p.NumDistinctHashes(), "one dup list")
	got, ok := p.Lookup(b)
	require.True(t, ok)
	require.Equal(t, ids[1], got)
	got, ok = p.Lookup(a)
	require.True(t, ok)
	require.Equal(t, ids[0], got)
	wrong := a
	wrong.Group = 1
	_, ok = p.Lookup(wrong)
	require.False(t, ok)
	must(t, p)
	_, last, err := p.Uncache(ids[0])
	require.NoError(t, err)
	require.True(t, last, "the last block of group 0 with that hash")
	got, ok = p.Lookup(b)
	require.True(t, ok)
	require.Equal(t, ids[1], got)
	must(t, p)
}
