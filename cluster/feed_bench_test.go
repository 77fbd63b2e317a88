package cluster

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkFeedApply measures blocks per second through a Feed into the memory
// index: 16 engines, batches of 64 stored and 64 removed blocks (the shape of
// BenchmarkApplyMemory, which is the same run's baseline: Apply called directly).
// "background" queues from the caller and applies in the feed's goroutine (the
// caller's time includes copying each batch); "manual" applies in the caller at a
// Flush every 256 batches.
func BenchmarkFeedApply(b *testing.B) {
	for _, manual := range []bool{false, true} {
		name := "background"
		if manual {
			name = "manual"
		}
		b.Run(name, func(b *testing.B) {
			x, err := NewMemoryIndex(MemoryConfig{MaxKeys: 1 << 20})
			require.NoError(b, err)
			f, err := NewFeed(FeedConfig{Index: x, Manual: manual, MaxQueuedBatches: 1 << 16, MaxQueuedHashes: 1 << 24})
			require.NoError(b, err)
			defer f.Close()
			ids := benchEngineIDs(benchEngines)
			const per, rounds = 64, 8
			pool := make([][]uint64, len(ids)*rounds*2)
			for i := range pool {
				pool[i] = make([]uint64, per)
				for k := range pool[i] {
					pool[i][k] = uint64(i*per+k+1) * 0x9E3779B97F4A7C15
				}
			}
			slot := func(e int, seq uint64) []uint64 { return pool[(e*rounds*2)+int(seq%(rounds*2))] }
			seqs := make([]uint64, len(ids))
			events := make([]Event, 2)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e := i % len(ids)
				seq := seqs[e]
				seqs[e]++
				events[0] = Event{Kind: Stored, Hashes: slot(e, seq)}
				events[1] = Event{Kind: Removed, Hashes: slot(e, seq+rounds)}
				if err := f.Apply(Batch{Engine: ids[e], Seq: seq, Events: events}); err != nil {
					b.Fatal(err)
				}
				if i%256 == 255 {
					if err := f.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			require.NoError(b, f.Flush(ctx))
			b.ReportMetric(float64(2*per*b.N)/b.Elapsed().Seconds(), "blocks/s")
			b.ReportMetric(0, "ns/op")
			s := f.Stats()
			require.Equal(b, uint64(b.N), s.Applied)
			require.Zero(b, s.Overflows)
		})
	}
}
