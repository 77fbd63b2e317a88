package attention

import "testing"

// BenchmarkDecodeHot is the compute-bound case: 8 sequences × 128 tokens whose K/V stay
// in cache; ns/token-head is wall time per (context token, KV head).
func BenchmarkDecodeHot(b *testing.B) {
	c, _ := NewCache(Config{Layers: 1, KVHeads: 8, HeadDim: 128, BlockSize: 16, NumBlocks: 64, DType: Float32})
	tables := make([][]int32, 8)
	for s := range tables {
		for j := range 8 {
			tables[s] = append(tables[s], int32(s*8+j))
		}
	}
	k := NewKernel(0)
	defer k.Close()
	q := make([]float32, 8*32*128)
	out := make([]float32, len(q))
	ctx := []int{128, 128, 128, 128, 128, 128, 128, 128}
	for b.Loop() {
		_ = k.Decode(c, 0, Params{QHeads: 32}, q, tables, ctx, out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(8*128*8), "ns/token-head")
}
