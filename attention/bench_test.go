package attention_test

import (
	"fmt"
	"testing"

	"github.com/pagedkv/pagedkv/attention"
	"github.com/pagedkv/pagedkv/bench"
)

// BenchmarkDecode reports MB/s of K/V read for the paged kernel (block 16, shuffled
// tables) and the same kernel over contiguous K/V, per element type: 32 sequences ×
// 4,096 tokens, 8 KV heads of 128, 32 query heads.
func BenchmarkDecode(b *testing.B) {
	for _, dt := range []attention.DType{attention.Float32, attention.BFloat16, attention.Float16, attention.FP8E4M3} {
		for _, bs := range []int{16, 4096} {
			name := "paged16"
			if bs == 4096 {
				name = "contiguous"
			}
			b.Run(fmt.Sprintf("%v/%s", dt, name), func(b *testing.B) {
				c, tables, err := bench.AttentionCache(dt, 32, 4096, bs)
				if err != nil {
					b.Fatal(err)
				}
				bench.AttentionDecode(c, tables, 4096)(b)
			})
		}
	}
}

// BenchmarkStreamRead is the machine's streaming read bandwidth over as many bytes as
// the float32 decode benchmark reads.
func BenchmarkStreamRead(b *testing.B) { bench.StreamRead(2 * 32 * 4096 * 8 * 128 * 4)(b) }

// BenchmarkPrefill2048 prefills a 2,048-token prompt: tok/s.
func BenchmarkPrefill2048(b *testing.B) { bench.AttentionPrefill(2048)(b) }

// BenchmarkReferencePrefill512 is the float64 reference at 512 tokens: tok/s.
func BenchmarkReferencePrefill512(b *testing.B) { bench.ReferencePrefill(512)(b) }

// BenchmarkDecodeHot is the compute-bound case: 8 sequences × 256 tokens (16 MiB of
// float32 K/V, cache-resident), block 16.
func BenchmarkDecodeHot(b *testing.B) {
	c, tables, err := bench.AttentionCache(attention.Float32, 8, 256, 16)
	if err != nil {
		b.Fatal(err)
	}
	bench.AttentionDecode(c, tables, 256)(b)
}
