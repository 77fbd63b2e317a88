package attention

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// Large arenas are mapped with huge pages requested (Linux) unless disabled; either
// way the cache stores and computes the same, and dropped caches are unmapped.
func TestHugePageArenas(t *testing.T) {
	cfg := Config{KVHeads: 2, HeadDim: 64, NumBlocks: 600, DType: BFloat16} // 2.4 MiB per arena
	huge, err := NewCache(cfg)
	require.NoError(t, err)
	if runtime.GOOS == "linux" {
		require.Equal(t, 2*cfg.BytesPerBlock()*cfg.NumBlocks/2, huge.HugePageBytes())
	}
	cfg.DisableHugePages = true
	plain, err := NewCache(cfg)
	require.NoError(t, err)
	require.Zero(t, plain.HugePageBytes())
	small, _ := NewCache(Config{KVHeads: 1, HeadDim: 8, NumBlocks: 4})
	require.Zero(t, small.HugePageBytes(), "small arenas stay on the heap")

	r1, r2 := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	a, b := fill(t, huge, r1, []int{300, 77}), fill(t, plain, r2, []int{300, 77})
	k := NewKernel(2)
	defer k.Close()
	q := make([]float32, 2*2*64)
	for i := range q {
		q[i] = float32(r1.NormFloat64())
	}
	oa, ob := make([]float32, len(q)), make([]float32, len(q))
	lens := []int{300, 77}
	require.NoError(t, k.Decode(huge, 0, Params{}, q, [][]int32{a[0].table, a[1].table}, lens, oa))
	require.NoError(t, k.Decode(plain, 0, Params{}, q, [][]int32{b[0].table, b[1].table}, lens, ob))
	require.Equal(t, ob, oa)
	require.NoError(t, huge.MoveBlocks(plain, []BlockCopy{{Src: a[0].table[0], Dst: 5}}))

	// Mapped caches that become unreachable are unmapped (no leak, no crash).
	for range 20 {
		c, err := NewCache(Config{KVHeads: 1, HeadDim: 128, NumBlocks: 1024, DType: Float32})
		require.NoError(t, err)
		require.Positive(t, c.HugePageBytes())
		require.NoError(t, c.Write(0, []int64{5}, make([]float32, 128), make([]float32, 128)))
	}
	runtime.GC()
}
