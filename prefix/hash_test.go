package prefix

import (
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"
	"github.com/zeebo/xxh3"
)

// Each Hasher gives its own hashes; XXHash (the former default) stays available.
func TestHashersDiffer(t *testing.T) {
	x, _ := New(Config{Hasher: XXHash{}})
	y, _ := New(Config{Hasher: XXH3{}})
	require.NotEqual(t, x.Root(), y.Root())
	require.Equal(t, Hash(xxhash.Sum64String("abc")), XXHash{}.Sum([]byte("abc")))
	require.Equal(t, Hash(xxh3.HashString("abc")), XXH3{}.Sum([]byte("abc")))
}

// XXH3's definition: a block without extra keys is XXH3-64 of its token ids (int32
// little-endian) seeded with the parent hash; a block with extra keys hashes the
// canonical encoding.
func TestXXH3BlockDefinition(t *testing.T) {
	s, _ := New(Config{BlockSize: 4})
	toks := []int32{1, -2, 3, 1 << 30, 5, 6, 7, 8}
	le := func(ts []int32) []byte {
		var b []byte
		for _, x := range ts {
			b = append(b, byte(x), byte(x>>8), byte(x>>16), byte(x>>24))
		}
		return b
	}
	c := s.NewChain(Extras{CacheSalt: "s"})
	c.Extend(toks)
	enc, _ := encodeBlock(nil, s.Root(), toks[:4], &Extras{CacheSalt: "s"}, 0, 4)
	require.Equal(t, XXH3{}.Sum(enc), c.Hash(0), "block 0 has the salt: canonical encoding")
	require.Equal(t, Hash(xxh3.HashSeed(le(toks[4:]), uint64(c.Hash(0)))), c.Hash(1), "block 1 has no extra keys: seeded")
	require.Zero(t, c.ExtraFingerprint(1))
	// The fast path only changes how; XXHash hashes the canonical encoding always.
	x, _ := New(Config{BlockSize: 4, Hasher: XXHash{}})
	d := x.NewChain(Extras{})
	d.Extend(toks)
	enc, _ = encodeBlock(nil, d.Hash(0), toks[4:], &Extras{}, 1, 4)
	require.Equal(t, XXHash{}.Sum(enc), d.Hash(1))
}

// A block's hash does not depend on extra keys that other blocks carry: a text
// prefix shared by an image prompt and a text prompt hashes the same in both, with
// every scheme, so they share cache blocks.
func TestBlocksWithoutExtraKeysAreShared(t *testing.T) {
	for name, s := range allSchemes(t, 4) {
		toks := seq(16)
		plain := s.NewChain(Extras{})
		plain.Extend(toks)
		img := s.NewChain(Extras{MM: []MMItem{{ID: "x", Offset: 9, Length: 3}}})
		img.Extend(toks)
		require.Equal(t, plain.Hash(0), img.Hash(0), name)
		require.Equal(t, plain.Hash(1), img.Hash(1), name)
		require.NotEqual(t, plain.Hash(2), img.Hash(2), name)
		require.NotEqual(t, plain.Hash(3), img.Hash(3), name)
		salted := s.NewChain(Extras{CacheSalt: "t"})
		salted.Extend(toks)
		require.NotEqual(t, plain.Hash(3), salted.Hash(3), name)
	}
}
