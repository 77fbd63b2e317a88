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
