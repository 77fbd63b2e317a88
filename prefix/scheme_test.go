package prefix

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"
	"github.com/zeebo/xxh3"
)

func TestNewValidates(t *testing.T) {
	_, err := New(Config{BlockSize: -1})
	require.True(t, errors.Is(err, ErrInvalidConfig))
	s, err := New(Config{BlockSize: 4})
	require.NoError(t, err)
	require.Equal(t, 4, s.BlockSize())
	_, err = New(Config{Hasher: VLLM{}, Seed: 1})
	require.True(t, errors.Is(err, ErrInvalidConfig), "a VLLM hasher has no pagedkv seed")
}

// The zero Config means the documented defaults: block size 16, XXH3, seed 0.
func TestZeroConfigIsDefault(t *testing.T) {
	z, err := New(Config{})
	require.NoError(t, err)
	d, err := New(DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, DefaultBlockSize, z.BlockSize())
	require.Equal(t, XXH3{}, z.Hasher())
	require.Equal(t, d.Root(), z.Root())
	a, b := z.NewChain(Extras{}), d.NewChain(Extras{})
	a.Extend(seq(40))
	b.Extend(seq(40))
	require.Equal(t, 2, a.Len())
	require.Equal(t, b.Hash(1), a.Hash(1))
	require.Equal(t, 8, z.DigestSize())
	require.Equal(t, uint64(z.Root()), binary.BigEndian.Uint64(z.AppendRootDigest(nil)))
}

// Each Hasher gives its own hashes; XXHash (the former default) stays available.
func TestHashersDiffer(t *testing.T) {
	x, _ := New(Config{Hasher: XXHash{}})
	y, _ := New(Config{Hasher: XXH3{}})
	require.NotEqual(t, x.Root(), y.Root())
	require.Equal(t, Hash(xxhash.Sum64String("abc")), XXHash{}.Sum([]byte("abc")))
	require.Equal(t, Hash(xxh3.HashString("abc")), XXH3{}.Sum([]byte("abc")))
}

func TestSeedChangesRoot(t *testing.T) {
	a, _ := New(Config{BlockSize: 4, Seed: 1})
	b, _ := New(Config{BlockSize: 4, Seed: 2})
	c, _ := New(Config{BlockSize: 4, Seed: 1})
	require.NotEqual(t, a.Root(), b.Root())
	require.Equal(t, a.Root(), c.Root())
}

func TestEncodeBlockLayout(t *testing.T) {
	ex := Extras{Adapter: "lo", CacheSalt: "s", MM: []MMItem{{ID: "img", Offset: 2, Length: 10}}}
	buf, extraStart := encodeBlock(nil, 7, []int32{1, -1}, &ex, 0, 2)
	require.Equal(t, 8+4+8, extraStart)
	require.Equal(t, []byte{7, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, buf[:extraStart])
	// block 0 covers [0,2): the image starts at 2, so it does not overlap; salt is there.
	require.Equal(t, append(append([]byte{'L', 2, 0, 0, 0}, "lo"...), append([]byte{'S', 1, 0, 0, 0}, 's')...), buf[extraStart:])
	// block 1 covers [2,4): the image overlaps at relative offset 0; no salt.
	buf, extraStart = encodeBlock(nil, 7, []int32{1, 2}, &ex, 1, 2)
	want := append([]byte{'L', 2, 0, 0, 0}, "lo"...)
	want = append(want, 'M', 3, 0, 0, 0, 'i', 'm', 'g', 0, 0, 0, 0, 0, 0, 0, 0)
	require.Equal(t, want, buf[extraStart:])
	// block 2 covers [4,6): relative offset -2.
	buf, extraStart = encodeBlock(nil, 7, []int32{1, 2}, &ex, 2, 2)
	require.Equal(t, byte(0xfe), buf[extraStart+7+1+4+3])
}
