package blockpool

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// Three levels, default 1: a low-priority block (level 0) is evicted before default
// ones, a high-priority one (level 2) after them, and within a level the least
// recently released first.
func TestRetentionEvictsLowestLevelFirst(t *testing.T) {
	p, err := New(Config{NumBlocks: 6, BlockSize: 1, Levels: 3, DefaultLevel: 1})
	require.NoError(t, err)
	ids, _ := p.Allocate(nil, 6)
	for i, id := range ids {
		_, err := p.Cache(id, key(uint64(10+i), 0, int32(i)), fresh())
		require.NoError(t, err)
	}
	require.NoError(t, p.ReleaseWith(ids[0:1], Retention{Level: 2}))
	require.NoError(t, p.Release(ids[1:2]))
	require.NoError(t, p.ReleaseWith(ids[2:3], Retention{Level: 0}))
	require.NoError(t, p.ReleaseWith(ids[3:4], Retention{Level: 2}))
	require.NoError(t, p.Release(ids[4:5]))
	require.NoError(t, p.ReleaseWith(ids[5:6], Retention{Level: 0}))
	require.Equal(t, []BlockID{2, 5, 1, 4, 0, 3}, p.FreeOrder(nil))
	for _, id := range []BlockID{2, 5, 1, 4, 0, 3} {
		got, err := p.Allocate(nil, 1)
		require.NoError(t, err)
		require.Equal(t, id, got[0])
		must(t, p)
	}
}

// The max rule: a block keeps the highest unexpired level asked for it, across
// holders; a default-level release does not lower it.
func TestRetentionMaxRule(t *testing.T) {
	p, err := New(Config{NumBlocks: 4, BlockSize: 1, Levels: 3, DefaultLevel: 1})
	require.NoError(t, err)
	ids, _ := p.Allocate(nil, 1)
	_, _ = p.Cache(ids[0], key(1, 0, 1), fresh())
	require.NoError(t, p.ReleaseWith(ids, Retention{Level: 2, Expiry: 10}))
	l, e := p.Level(ids[0])
	require.Equal(t, [2]int64{2, 10}, [2]int64{int64(l), e})
	require.NoError(t, p.Retain(ids[0])) // a hit
	require.NoError(t, p.Release(ids))   // by a default request
	l, e = p.Level(ids[0])
	require.Equal(t, [2]int64{2, 10}, [2]int64{int64(l), e}, "a default release keeps the higher level")
	require.NoError(t, p.Retain(ids[0]))
	require.NoError(t, p.ReleaseWith(ids, Retention{Level: 2})) // same level, never expires
	l, e = p.Level(ids[0])
	require.Equal(t, [2]int64{2, 0}, [2]int64{int64(l), e}, "the later expiry (never) wins")
	require.NoError(t, p.Retain(ids[0]))
	require.NoError(t, p.ReleaseWith(ids, Retention{Level: 0, Expiry: 3}))
	l, _ = p.Level(ids[0])
	require.Equal(t, 2, l, "a lower request does not lower it")
	must(t, p)
}

// SetTime moves expired free blocks to the tail of the default level, in expiry
// order; a block that expires while held takes the default level when released.
func TestRetentionDecay(t *testing.T) {
	p, err := New(Config{NumBlocks: 5, BlockSize: 1, Levels: 3, DefaultLevel: 1})
	require.NoError(t, err)
	ids, _ := p.Allocate(nil, 5)
	for i, id := range ids {
		_, _ = p.Cache(id, key(uint64(i), 0, int32(i)), fresh())
	}
	require.NoError(t, p.ReleaseWith(ids[0:1], Retention{Level: 2, Expiry: 5}))
	require.NoError(t, p.ReleaseWith(ids[1:2], Retention{Level: 2, Expiry: 3}))
	require.NoError(t, p.ReleaseWith(ids[2:3], Retention{Level: 0, Expiry: 4})) // a low level decays up
	require.NoError(t, p.Release(ids[3:4]))
	require.Equal(t, []BlockID{2, 3, 0, 1}, p.FreeOrder(nil))
	require.NoError(t, p.SetTime(3))
	require.Equal(t, []BlockID{2, 3, 1, 0}, p.FreeOrder(nil))
	must(t, p)
	require.NoError(t, p.SetTime(100))
	require.Equal(t, []BlockID{3, 1, 2, 0}, p.FreeOrder(nil), "expiry order: 2 (at 4), then 0 (at 5)")
	must(t, p)
	// Block 4 is held; its level expires while held and is dropped at release.
	require.NoError(t, p.Retain(ids[4]))
	require.NoError(t, p.ReleaseWith(ids[4:5], Retention{Level: 2, Expiry: 101}))
	require.NoError(t, p.SetTime(200))
	require.NoError(t, p.Release(ids[4:5]))
	l, e := p.Level(ids[4])
	require.Equal(t, [2]int64{1, 0}, [2]int64{int64(l), e})
	require.Equal(t, []BlockID{3, 1, 2, 0, 4}, p.FreeOrder(nil))
	must(t, p)
	// A retention already expired at release is the default.
	require.NoError(t, p.Retain(ids[4]))
	require.NoError(t, p.ReleaseWith(ids[4:5], Retention{Level: 2, Expiry: 150}))
	l, _ = p.Level(ids[4])
	require.Equal(t, 1, l)
	// The clock never runs backwards.
	require.True(t, errors.Is(p.SetTime(199), ErrInvalidRetention))
	require.True(t, errors.Is(p.SetTime(MaxTime+1), ErrInvalidRetention))
	require.Equal(t, int64(200), p.Now())
}

// Decay entries of blocks revived and released again many times do not pile up.
func TestRetentionDecayHeapStaysBounded(t *testing.T) {
	p, err := New(Config{NumBlocks: 4, BlockSize: 1, Levels: 2})
	require.NoError(t, err)
	ids, _ := p.Allocate(nil, 1)
	_, _ = p.Cache(ids[0], key(1, 0, 1), fresh())
	for i := range 10000 {
		require.NoError(t, p.ReleaseWith(ids, Retention{Level: 1, Expiry: int64(1 + i)}))
		require.NoError(t, p.Retain(ids[0]))
	}
	require.LessOrEqual(t, len(p.decay), 2*p.NumBlocks()+64)
	require.NoError(t, p.Release(ids))
	must(t, p)
}

// ResetCache and DropCached forget every level and keep the queue order.
func TestRetentionResetFlattens(t *testing.T) {
	p, err := New(Config{NumBlocks: 4, BlockSize: 1, Levels: 3, DefaultLevel: 1})
	require.NoError(t, err)
	ids, _ := p.Allocate(nil, 3)
	for i, id := range ids {
		_, _ = p.Cache(id, key(uint64(i), 0, int32(i)), fresh())
	}
	require.NoError(t, p.ReleaseWith(ids[0:1], Retention{Level: 2, Expiry: 9}))
	require.NoError(t, p.ReleaseWith(ids[1:2], Retention{Level: 0}))
	require.NoError(t, p.Release(ids[2:3]))
	before := p.FreeOrder(nil)
	require.Equal(t, []BlockID{1, 3, 2, 0}, before)
	held, _ := p.Allocate(nil, 1) // block 1 (level 0) is evicted: the head
	require.Equal(t, BlockID(1), held[0])
	require.True(t, errors.Is(p.ResetCache(), ErrInUse))
	require.NoError(t, p.DropCached(), "block 1 is held but no longer cached")
	require.Equal(t, before[1:], p.FreeOrder(nil))
	require.Zero(t, p.NumCached())
	for _, id := range p.FreeOrder(nil) {
		l, _ := p.Level(id)
		require.Equal(t, 1, l)
	}
	must(t, p)
	require.NoError(t, p.SetTime(10)) // the stale decay entry is harmless
	must(t, p)
	_, _ = p.Cache(held[0], key(5, 0, 5), fresh())
	require.True(t, errors.Is(p.DropCached(), ErrInUse), "a held cached block")
}
