package attention

import (
	"math"
	"math/bits"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// Shapes whose sizes do not fit in an int are refused, not wrapped around into a
// cache with empty arenas or a negative make.
func TestNewCacheRefusesOverflowingShapes(t *testing.T) {
	for _, cfg := range []Config{
		// Block sizes within MaxBlockSize, so the size check is what refuses them.
		{KVHeads: 1 << 16, HeadDim: 1 << 16, BlockSize: 1 << 16, NumBlocks: 1 << 16},                  // wraps to 0 elements
		{KVHeads: 1, HeadDim: 1 << (bits.UintSize - 20), BlockSize: 1 << 15, NumBlocks: 2},            // wraps negative
		{KVHeads: 1, HeadDim: 1 << (bits.UintSize - 22), BlockSize: 1 << 15, NumBlocks: 2, Layers: 8}, // only the total wraps
	} {
		var err error
		require.NotPanics(t, func() { _, err = NewCache(cfg) }, "%+v", cfg)
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", cfg)
		require.ErrorContains(t, err, "overflows an int", "%+v", cfg)
	}
}

// Shapes that fit in an int but not in memory are refused before anything is
// allocated (they used to end in the runtime's fatal out-of-memory error).
func TestNewCacheRefusesHugeCaches(t *testing.T) {
	for _, cfg := range []Config{
		{KVHeads: 1, HeadDim: 64, NumBlocks: 1 << 30},              // 8 TiB
		{KVHeads: 8, HeadDim: 128, NumBlocks: 1 << 20, Layers: 80}, // 5 TiB
		{KVHeads: 1, HeadDim: 1, BlockSize: MaxBlockSize + 1, NumBlocks: 1},
	} {
		var c *Cache
		var err error
		alloc := allocatedBy(func() { c, err = NewCache(cfg) })
		require.ErrorIs(t, err, ErrInvalidConfig, "%+v", cfg)
		require.Nil(t, c)
		require.Less(t, alloc, uint64(1<<20), "%+v", cfg)
	}
	// Below MaxCacheBytes, more than the machine has: refused where it is known.
	if mem, ok := physicalMemory(); ok && mem < 512<<30 {
		_, err := NewCache(Config{KVHeads: 8, HeadDim: 128, NumBlocks: 1 << 19, Layers: 16}) // 512 GiB
		require.ErrorIs(t, err, ErrInvalidConfig)
		require.ErrorContains(t, err, "RAM and swap")
	}
	c, err := NewCache(Config{KVHeads: 1, HeadDim: 1, BlockSize: MaxBlockSize, NumBlocks: 1})
	require.NoError(t, err, "the largest block size")
	require.Equal(t, MaxBlockSize, c.Config().BlockSize)
}

// smallKernel returns a cache of 2 KV heads of dim 16, a one-worker kernel (closed
// with the test) and a query for one token of 2 heads.
func smallKernel(t *testing.T) (*Cache, *Kernel, []float32) {
	c, err := NewCache(Config{KVHeads: 2, HeadDim: 16, BlockSize: 4, NumBlocks: 4})
	require.NoError(t, err)
	k := NewKernel(1)
	t.Cleanup(k.Close)
	return c, k, make([]float32, 2*16)
}

// allocatedBy returns the bytes f allocated.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A call refused for its shapes allocates nothing for the shapes it was given: a
// huge Params.QHeads with small buffers is an ErrShape, not scratch for 2^17 query
// heads kept by every worker.
func TestKernelChecksShapesBeforeGrowingScratch(t *testing.T) {
	c, k, q := smallKernel(t)
	out := make([]float32, len(q))
	p := Params{QHeads: 2 << 16}
	var derr, perr error
	n := allocatedBy(func() {
		derr = k.Decode(c, 0, p, q, [][]int32{{0}}, []int{1}, out)
		perr = k.Prefill(c, 0, p, q, []int32{0}, 0, 1, out)
	})
	require.ErrorIs(t, derr, ErrShape)
	require.ErrorIs(t, perr, ErrShape)
	require.Less(t, n, uint64(1<<20), "refused calls allocated %d bytes", n)
	// The kernel still serves well-shaped calls.
	require.NoError(t, k.Decode(c, 0, Params{}, q, [][]int32{{0}}, []int{1}, out))
}

// A prefill whose end position overflows is out of range, not a slice panic.
func TestPrefillPositionOverflow(t *testing.T) {
	c, k, q := smallKernel(t)
	var perr error
	require.NotPanics(t, func() { perr = k.Prefill(c, 0, Params{}, q, []int32{0}, math.MaxInt, 1, make([]float32, len(q))) })
	require.ErrorIs(t, perr, ErrOutOfRange)
}
