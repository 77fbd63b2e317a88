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
