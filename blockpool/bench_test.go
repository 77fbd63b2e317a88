package blockpool

import "testing"

// BenchmarkAllocateRelease allocates and releases one block: the per-block cost.
func BenchmarkAllocateRelease(b *testing.B) {
	p, _ := New(DefaultConfig(4096))
	buf := make([]BlockID, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = p.Allocate(buf[:0], 1)
		_ = p.Release(buf)
	}
}

// BenchmarkAllocateReleaseBulk allocates and releases 64 blocks at once; ns/op is per
// 64 blocks.
func BenchmarkAllocateReleaseBulk64(b *testing.B) {
	p, _ := New(DefaultConfig(4096))
	buf := make([]BlockID, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = p.Allocate(buf[:0], 64)
		_ = p.ReleaseTable(buf)
	}
}

// BenchmarkLookupHit is one confirmed lookup of a cached 16-token block.
func BenchmarkLookupHit(b *testing.B) {
	p, _ := New(DefaultConfig(1024))
	ids, _ := p.Allocate(nil, 1)
	toks := make([]int32, 16)
	k := Key{Hash: 12345, Parent: 0, Tokens: toks}
	_, _ = p.Cache(ids[0], k, fresh())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := p.Lookup(k); !ok {
			b.Fatal("miss")
		}
	}
}

// mix64 is splitmix64's finaliser: distinct inputs give well-spread 64-bit hashes,
// as chained content hashes are.
func mix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// fullCache returns a pool of n blocks of 16 tokens, every block free and cached
// under hash mix64(0..n-1), and the next hash counter.
func fullCache(b *testing.B, n int) (*Pool, uint64) {
	p, _ := New(DefaultConfig(n))
	k := Key{Tokens: make([]int32, 16)}
	buf := make([]BlockID, 0, 1)
	for i := range uint64(n) {
		buf, _ = p.Allocate(buf[:0], 1)
		k.Hash = mix64(i)
		if _, err := p.Cache(buf[0], k, i+1); err != nil {
			b.Fatal(err)
		}
		_ = p.Release(buf)
	}
	return p, uint64(n)
}

// BenchmarkCacheEvict65536 is a full cache's turnover on a 65,536-block pool (the
// size of a large GPU's pool): allocate one block, evicting the least recently
// released cached block (its hash leaves the index), cache it under a new hash and
// release it to the tail of the free queue.
func BenchmarkCacheEvict65536(b *testing.B) {
	p, next := fullCache(b, 65536)
	k := Key{Tokens: make([]int32, 16)}
	buf := make([]BlockID, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = p.Allocate(buf[:0], 1)
		next++
		k.Hash = mix64(next)
		_, _ = p.Cache(buf[0], k, next)
		_ = p.Release(buf)
	}
}

// BenchmarkLookup65536 looks up random hashes in a full 65,536-block cache, half of
// them cached (a confirmed hit), half not (a miss).
func BenchmarkLookup65536(b *testing.B) {
	p, n := fullCache(b, 65536)
	k := Key{Tokens: make([]int32, 16)}
	i := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		i = i*6364136223846793005 + 1442695040888963407
		k.Hash, k.Parent = mix64(i>>33%(2*n)), 0
		_, ok := p.Lookup(k)
		if ok != (i>>33%(2*n) < n) {
			b.Fatal("wrong answer")
		}
	}
}
