package prefix

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
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

func TestSeedChangesRoot(t *testing.T) {
	a, _ := New(Config{BlockSize: 4, Seed: 1})
	b, _ := New(Config{BlockSize: 4, Seed: 2})
	c, _ := New(Config{BlockSize: 4, Seed: 1})
	require.NotEqual(t, a.Root(), b.Root())
	require.Equal(t, a.Root(), c.Root())
}
