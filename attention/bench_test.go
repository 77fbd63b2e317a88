package attention

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

// Decode benchmark shape: 32 sequences × 4,096 tokens, 8 KV heads of 128, 32 query
// heads (GQA 4), one layer.
const (
	benchSeqs, benchCtx, benchKV, benchDim, benchQ = 32, 4096, 8, 128, 32
)

// benchCache fills a one-layer cache for the decode benchmark. blockSize 4096 makes
// every (sequence, head) one contiguous run: the same kernel over contiguous K/V.
// Paged tables are shuffled.
func benchCache(b *testing.B, dt DType, blockSize int) (*Cache, [][]int32) {
	nb := benchSeqs * benchCtx / blockSize
	c, err := NewCache(Config{Layers: 1, KVHeads: benchKV, HeadDim: benchDim, BlockSize: blockSize, NumBlocks: nb, DType: dt})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	vals := make([]float32, 4096)
	for i := range vals {
		vals[i] = float32(r.NormFloat64())
	}
	n := nb * c.blockLen
	for i := 0; i < n; i += len(vals) {
		m := min(len(vals), n-i)
		c.encode(i, 0, vals[:m], vals[:m])
	}
	perm := r.Perm(nb)
	per := nb / benchSeqs
	tables := make([][]int32, benchSeqs)
	for s := range tables {
		for j := range per {
			tables[s] = append(tables[s], int32(perm[s*per+j]))
		}
	}
	return c, tables
}

func benchDecode(b *testing.B, dt DType, blockSize int) {
	c, tables := benchCache(b, dt, blockSize)
	k := NewKernel(0)
	defer k.Close()
	p := Params{QHeads: benchQ}
	q := make([]float32, benchSeqs*benchQ*benchDim)
	for i := range q {
		q[i] = float32(i%7) * 0.01
	}
	out := make([]float32, len(q))
	ctx := make([]int, benchSeqs)
	for i := range ctx {
		ctx[i] = benchCtx
	}
	bytes := int64(2 * benchSeqs * benchCtx * benchKV * benchDim * dt.Size())
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := k.Decode(c, 0, p, q, tables, ctx, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode reports MB/s of K/V read (SetBytes) for the paged kernel (block 16)
// and the same kernel over contiguous K/V, per element type.
func BenchmarkDecode(b *testing.B) {
	for _, dt := range []DType{Float32, BFloat16, Float16, FP8E4M3} {
		for _, bs := range []int{16, benchCtx} {
			name := "paged16"
			if bs == benchCtx {
				name = "contiguous"
			}
			b.Run(fmt.Sprintf("%v/%s", dt, name), func(b *testing.B) { benchDecode(b, dt, bs) })
		}
	}
}

// BenchmarkStreamRead is the machine's streaming read bandwidth: a plain sum over a
// buffer as large as the float32 decode benchmark's K/V, split over GOMAXPROCS
// goroutines.
func BenchmarkStreamRead(b *testing.B) {
	n := 2 * benchSeqs * benchCtx * benchKV * benchDim * 4 / 8
	buf := make([]uint64, n)
	for i := range buf {
		buf[i] = uint64(i)
	}
	b.SetBytes(int64(n * 8))
	workers := runtime.GOMAXPROCS(0)
	var sink uint64
	for b.Loop() {
		var wg sync.WaitGroup
		sums := make([]uint64, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sums[w] = sumWords(buf[n*w/workers : n*(w+1)/workers])
			}()
		}
		wg.Wait()
		for _, s := range sums {
			sink += s
		}
	}
	_ = sink
}

func sumWords(b []uint64) uint64 {
	var s0, s1, s2, s3 uint64
	i := 0
	for ; i+4 <= len(b); i += 4 {
		s0 += b[i]
		s1 += b[i+1]
		s2 += b[i+2]
		s3 += b[i+3]
	}
	for ; i < len(b); i++ {
		s0 += b[i]
	}
	return s0 + s1 + s2 + s3
}

var _ = unsafe.Sizeof(0)

// BenchmarkPrefill2048 prefills a 2,048-token prompt (8 query heads, 2 KV heads of
// 128, block 16): tokens/s in the tok/s metric.
func BenchmarkPrefill2048(b *testing.B) {
	const n, kvh, qh, d = 2048, 2, 8, 128
	c, _ := NewCache(Config{Layers: 1, KVHeads: kvh, HeadDim: d, BlockSize: 16, NumBlocks: n / 16, DType: Float32})
	r := rand.New(rand.NewPCG(2, 2))
	kv := make([]float32, n*kvh*d)
	for i := range kv {
		kv[i] = float32(r.NormFloat64())
	}
	slots := make([]int64, n)
	table := make([]int32, n/16)
	for i := range table {
		table[i] = int32(i)
	}
	for i := range slots {
		slots[i] = int64(i)
	}
	_ = c.Write(0, slots, kv, kv)
	q := make([]float32, n*qh*d)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	out := make([]float32, len(q))
	k := NewKernel(0)
	defer k.Close()
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Prefill(c, 0, Params{QHeads: qh}, q, table, 0, n, out)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkReferencePrefill512 is the float64 reference on a 512-token prompt of the
// same shape (the 2,048-token one takes seconds per iteration): compare tok/s.
func BenchmarkReferencePrefill512(b *testing.B) {
	const n, kvh, qh, d = 512, 2, 8, 128
	r := rand.New(rand.NewPCG(2, 2))
	kv := make([]float32, n*kvh*d)
	for i := range kv {
		kv[i] = float32(r.NormFloat64())
	}
	q := make([]float32, n*qh*d)
	pos := make([]int, n)
	for i := range pos {
		pos[i] = i
	}
	for b.Loop() {
		_ = Reference(q, kv, kv, qh, kvh, d, pos, 1/math.Sqrt(d), 0)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}
