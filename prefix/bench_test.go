package prefix

import (
	"crypto/sha256"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
)

// promptTokens returns n token ids spread over a 151K vocabulary (most need 5 CBOR
// bytes, as real ids do).
func promptTokens(n int) []int32 {
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(i * 7919 % 151000)
	}
	return t
}

var benchSchemes = []struct {
	name string
	h    Hasher
}{
	{"xxhash64", XXHash{}},
	{"xxh3", XXH3{}},
	{"sha256_cbor", VLLM{Algo: SHA256CBOR, PythonHashSeed: "0"}},
	{"xxhash_cbor", VLLM{Algo: XXHashCBOR, PythonHashSeed: "0"}},
	{"sha256_pickle", VLLM{Algo: SHA256Pickle, PythonHashSeed: "0"}},
	{"xxhash_pickle", VLLM{Algo: XXHashPickle, PythonHashSeed: "0"}},
}

// BenchmarkPrompt2048 hashes a 2,048-token prompt (128 blocks of 16) from scratch
// with each hasher: ns/op is per prompt.
func BenchmarkPrompt2048(b *testing.B) {
	toks := promptTokens(2048)
	for _, bs := range benchSchemes {
		b.Run(bs.name, func(b *testing.B) {
			s, err := New(Config{BlockSize: 16, Hasher: bs.h})
			if err != nil {
				b.Fatal(err)
			}
			c := s.NewChain(Extras{})
			c.Extend(toks)
			b.ReportAllocs()
			for b.Loop() {
				c.Reset()
				c.Extend(toks)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/128, "ns/block")
		})
	}
}

// BenchmarkRaw2048 runs the bare hash functions over the very bytes sha256_cbor
// hashes for that prompt (its 128 CBOR payloads, one call each), so the gap to
// BenchmarkPrompt2048 is the cost of encoding and chaining; MB/s is raw throughput.
func BenchmarkRaw2048(b *testing.B) {
	s, _ := New(Config{BlockSize: 16, Hasher: VLLM{PythonHashSeed: "0"}})
	c := s.NewChain(Extras{})
	var payloads [][]byte
	total := 0
	c.trace = func(_ int, p []byte) {
		payloads = append(payloads, append([]byte(nil), p...))
		total += len(p)
	}
	c.Extend(promptTokens(2048))
	for _, f := range []struct {
		name string
		sum  func([]byte) uint64
	}{
		{"sha256", func(p []byte) uint64 { d := sha256.Sum256(p); return uint64(d[31]) }},
		{"xxh3_128", func(p []byte) uint64 { return xxh3.Hash128(p).Lo }},
		{"xxh3_64", xxh3.Hash},
		{"xxhash64", xxhash.Sum64},
	} {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(total))
			var x uint64
			for b.Loop() {
				for _, p := range payloads {
					x += f.sum(p)
				}
			}
			sink = x
		})
	}
}

// BenchmarkRawOneBuffer is the same bytes in one call: the functions' peak
// throughput, without per-call overhead.
func BenchmarkRawOneBuffer(b *testing.B) {
	s, _ := New(Config{BlockSize: 16, Hasher: VLLM{PythonHashSeed: "0"}})
	c := s.NewChain(Extras{})
	var all []byte
	c.trace = func(_ int, p []byte) { all = append(all, p...) }
	c.Extend(promptTokens(2048))
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(int64(len(all)))
		for b.Loop() {
			d := sha256.Sum256(all)
			sink += uint64(d[0])
		}
	})
	b.Run("xxh3_128", func(b *testing.B) {
		b.SetBytes(int64(len(all)))
		for b.Loop() {
			sink += xxh3.Hash128(all).Lo
		}
	})
}

var sink uint64
