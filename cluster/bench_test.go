package cluster

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

const (
	benchBS      = 16
	benchEngines = 16
	benchTokens  = 8192
)

func benchEngineIDs(n int) []EngineID {
	ids := make([]EngineID, n)
	for i := range ids {
		ids[i] = EngineID(fmt.Sprintf("engine-%02d", i))
	}
	return ids
}

// benchFleet fills an index the way a fleet with a shared 1K-token system prompt
// would look: every engine holds the system prompt, four hold the first half of the
// benchmark prompt, two hold all of it, and every engine holds 64 unrelated 8K
// prompts.
func benchFleet(b *testing.B, x Index) (prompt []int32, ids []EngineID) {
	return benchFleetHashed(b, x, nil)
}

// loopCPU runs f in the benchmark loop and reports, beside the wall time, the
// process CPU time per operation (cpu-ns/op): on a loaded machine the wall time
// includes waiting for a core, the CPU time does not.
func loopCPU(b *testing.B, f func()) {
	b.Helper()
	runtime.GC() // no collection of the setup's garbage during the loop
	start := processCPU()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

func benchFleetHashed(b *testing.B, x Index, hasher prefix.Hasher) (prompt []int32, ids []EngineID) {
	ctx := context.Background()
	ids = benchEngineIDs(benchEngines)
	prompt = seqTokens(benchTokens, 1)
	sch, err := prefix.New(prefix.Config{BlockSize: benchBS, Hasher: hasher})
	require.NoError(b, err)
	hashesOf := func(_ testing.TB, tokens []int32, _ int, ex prefix.Extras) []uint64 {
		c := sch.NewChain(ex)
		c.Extend(tokens)
		out := make([]uint64, c.Len())
		for i := range out {
			out[i] = uint64(c.Hash(i))
		}
		return out
	}
	hs := hashesOf(b, prompt, benchBS, prefix.Extras{})
	var batches []Batch
	for i, id := range ids {
		evs := []Event{gpu(hs[:64]...)}
		switch {
		case i < 2:
			evs = append(evs, gpu(hs...))
		case i < 6:
			evs = append(evs, gpu(hs[:len(hs)/2]...))
		}
		for k := range 64 {
			other := hashesOf(b, seqTokens(benchTokens, int32(1_000_000*(i*64+k+1))), benchBS, prefix.Extras{})
			evs = append(evs, gpu(other...))
		}
		batches = append(batches, Batch{Engine: id, Seq: 0, Events: evs})
	}
	_, err = x.ApplyBatches(ctx, batches, nil)
	require.NoError(b, err)
	return prompt, ids
}

// BenchmarkRoute8K16Engines is the routing figure: one Route (and Finish) of
// an 8K-token prompt over 16 engines with the in-memory index, hashing included:
// precise/hit is the worst case (the whole prompt cached on two engines, half of it
// on four more: all 511 blocks hashed and matched), precise/system-prompt a new
// conversation under a shared 1K-token system prompt, precise/miss an unrelated
// prompt. Beside them, measured in the same run: hashing the whole prompt alone,
// matching its 511 blocks alone, and load-only routing.
func BenchmarkRoute8K16Engines(b *testing.B) {
	x, err := NewMemoryIndex(MemoryConfig{MaxKeys: 4 << 20})
	require.NoError(b, err)
	prompt, ids := benchFleet(b, x)
	ctx := context.Background()
	unrelated := seqTokens(benchTokens, -5_000_000)

	precise, err := NewRouter(RouterConfig{Engines: ids, Index: x})
	require.NoError(b, err)
	// The cases are what they say: the whole prompt (511 blocks) cached, the
	// system prompt (64 blocks), nothing.
	for _, c := range []struct {
		tokens []int32
		hit    int
	}{{prompt, 511 * benchBS}, {append(append([]int32{}, prompt[:1024]...), seqTokens(benchTokens-1024, -9_000_000)...), 1024}, {unrelated, 0}} {
		d, err := precise.Route(ctx, c.tokens, RouteOptions{DryRun: true})
		require.NoError(b, err)
		require.Equal(b, c.hit, d.HitTokens)
	}
	b.Run("precise/hit", func(b *testing.B) {
		b.ReportAllocs()
		loopCPU(b, func() {
			d, _ := precise.Route(ctx, prompt, RouteOptions{ExpectedOutputTokens: 256})
			_ = precise.Finish(d.Ticket, FinishOptions{})
		})
	})
	// A new conversation under the fleet's shared 1K-token system prompt: every
	// engine holds the first 64 blocks, nobody the rest.
	system := append(append([]int32{}, prompt[:1024]...), seqTokens(benchTokens-1024, -9_000_000)...)
	b.Run("precise/system-prompt", func(b *testing.B) {
		b.ReportAllocs()
		loopCPU(b, func() {
			d, _ := precise.Route(ctx, system, RouteOptions{ExpectedOutputTokens: 256})
			_ = precise.Finish(d.Ticket, FinishOptions{})
		})
	})
	b.Run("precise/miss", func(b *testing.B) {
		b.ReportAllocs()
		loopCPU(b, func() {
			d, _ := precise.Route(ctx, unrelated, RouteOptions{ExpectedOutputTokens: 256})
			_ = precise.Finish(d.Ticket, FinishOptions{})
		})
	})
	// The same with the previous default hasher, xxhash64 (prefix.XXHash): what the
	// hasher costs.
	x64, err := NewMemoryIndex(MemoryConfig{MaxKeys: 4 << 20})
	require.NoError(b, err)
	prompt64, _ := benchFleetHashed(b, x64, prefix.XXHash{})
	precise64, err := NewRouter(RouterConfig{Engines: ids, Index: x64, Hash: HashConfig{Hasher: prefix.XXHash{}}})
	require.NoError(b, err)
	b.Run("precise/hit/xxhash64", func(b *testing.B) {
		b.ReportAllocs()
		loopCPU(b, func() {
			d, _ := precise64.Route(ctx, prompt64, RouteOptions{ExpectedOutputTokens: 256})
			_ = precise64.Finish(d.Ticket, FinishOptions{})
		})
	})
	// The approximate policy: 16 paged.Manager replicas (64K blocks each) that have
	// seen the prompt once; every Route hashes the prompt once and asks each replica
	// (paged.Manager.LookupChain).
	approx, err := NewRouter(RouterConfig{Engines: ids, Policy: PolicyApproximate, ReplicaBlocks: 1 << 16})
	require.NoError(b, err)
	d, err := approx.Route(ctx, prompt, RouteOptions{})
	require.NoError(b, err)
	require.NoError(b, approx.Finish(d.Ticket, FinishOptions{}))
	b.Run("approximate/hit", func(b *testing.B) {
		b.ReportAllocs()
		loopCPU(b, func() {
			d, _ := approx.Route(ctx, prompt, RouteOptions{ExpectedOutputTokens: 256, DryRun: true})
			_ = d
		})
	})
	load, err := NewRouter(RouterConfig{Engines: ids, Policy: PolicyLoad})
	require.NoError(b, err)
	b.Run("baseline/load-only", func(b *testing.B) {
		b.ReportAllocs()
		loopCPU(b, func() {
			d, _ := load.Route(ctx, prompt, RouteOptions{ExpectedOutputTokens: 256})
			_ = load.Finish(d.Ticket, FinishOptions{})
		})
	})
	sch, _ := prefix.New(prefix.Config{BlockSize: benchBS})
	chain := sch.NewChain(prefix.Extras{})
	b.Run("baseline/hash-only", func(b *testing.B) {
		b.ReportAllocs()
		loopCPU(b, func() {
			chain.Reset()
			chain.Extend(prompt[:(len(prompt)-1)/benchBS*benchBS])
		})
	})
	hs := hashesOf(b, prompt, benchBS, prefix.Extras{})[:(len(prompt)-1)/benchBS]
	var dst []EngineMatch
	b.Run("baseline/match-only", func(b *testing.B) {
		b.ReportAllocs()
		loopCPU(b, func() {
			dst, _ = x.Match(ctx, hs, dst[:0])
		})
	})
}

// BenchmarkApplyMemory measures blocks applied per second in memory: batches of 64
// stored and 64 removed blocks over 16 engines (steady state: the index stays the
// same size).
func BenchmarkApplyMemory(b *testing.B) {
	x, err := NewMemoryIndex(MemoryConfig{MaxKeys: 1 << 20})
	require.NoError(b, err)
	benchApply(b, x, 1)
}

// BenchmarkApplyRedis measures blocks applied per second on a local redis-server:
// one batch per round trip, and 32 batches pipelined per round trip.
func BenchmarkApplyRedis(b *testing.B) {
	if !realRedisAvailable() {
		b.Skip("redis-server not on PATH")
	}
	for _, pipe := range []int{1, 32} {
		b.Run(fmt.Sprintf("pipeline=%d", pipe), func(b *testing.B) {
			benchApply(b, newRealRedisIndex(b), pipe)
		})
	}
}

func benchApply(b *testing.B, x Index, pipeline int) {
	ctx := context.Background()
	ids := benchEngineIDs(benchEngines)
	const per, rounds = 64, 8
	// Every engine stores 64 new blocks per batch and removes the 64 it stored 8
	// batches earlier; hashes are precomputed so the loop measures Apply alone.
	seqs := make([]uint64, len(ids))
	pool := make([][]uint64, len(ids)*rounds*2)
	for i := range pool {
		pool[i] = make([]uint64, per)
		for k := range pool[i] {
			pool[i][k] = uint64(i*per+k+1) * 0x9E3779B97F4A7C15
		}
	}
	slot := func(e int, seq uint64) []uint64 { return pool[(e*rounds*2)+int(seq%(rounds*2))] }
	batches := make([]Batch, pipeline)
	for k := range batches {
		batches[k].Events = make([]Event, 2)
	}
	var res []ApplyResult
	b.ReportAllocs()
	b.ResetTimer()
	blocks := 0
	for i := 0; i < b.N; i += pipeline {
		for k := range batches {
			e := (i + k) % len(ids)
			seq := seqs[e]
			seqs[e]++
			bt := &batches[k]
			bt.Engine, bt.Seq = ids[e], seq
			bt.Events[0] = Event{Kind: Stored, Hashes: slot(e, seq)}
			bt.Events[1] = Event{Kind: Removed, Hashes: slot(e, seq+rounds)} // stored 8 batches ago
		}
		var err error
		if res, err = x.ApplyBatches(ctx, batches, res[:0]); err != nil {
			b.Fatal(err)
		}
		blocks += 2 * per * pipeline
	}
	b.ReportMetric(float64(blocks)/b.Elapsed().Seconds(), "blocks/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMemoryPerBlock measures the memory index's heap per cached block: 1M keys
// held by one engine each, and by four engines each.
func BenchmarkMemoryPerBlock(b *testing.B) {
	for _, holders := range []int{1, 4} {
		b.Run(fmt.Sprintf("engines-per-key=%d", holders), func(b *testing.B) {
			const keys = 1 << 20
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				x, _ := NewMemoryIndex(MemoryConfig{MaxKeys: keys})
				hs := make([]uint64, 4096)
				for start := 0; start < keys; start += len(hs) {
					for i := range hs {
						hs[i] = uint64(start+i+1) * 0x9E3779B97F4A7C15
					}
					for e := range holders {
						id := EngineID(fmt.Sprintf("e%d", e))
						if _, err := x.Apply(context.Background(), Batch{Engine: id, Seq: uint64(start / len(hs)), Events: []Event{gpu(hs...)}}); err != nil {
							b.Fatal(err)
						}
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "bytes/key")
				runtime.KeepAlive(x)
			}
		})
	}
}

// BenchmarkRouteRedis is Route over a real local redis-server: 16 engines holding a
// shared 1K-token system prompt, two of them the whole 8K prompt. One Route is one
// EVALSHA per scorer chunk.
func BenchmarkRouteRedis(b *testing.B) {
	if !realRedisAvailable() {
		b.Skip("redis-server not on PATH")
	}
	x := newRealRedisIndex(b)
	ctx := context.Background()
	ids := benchEngineIDs(benchEngines)
	prompt := seqTokens(benchTokens, 1)
	hs := hashesOf(b, prompt, benchBS, prefix.Extras{})
	for i, id := range ids {
		evs := []Event{gpu(hs[:64]...)}
		if i < 2 {
			evs = append(evs, gpu(hs...))
		}
		_, err := x.Apply(ctx, Batch{Engine: id, Events: evs})
		require.NoError(b, err)
	}
	r, err := NewRouter(RouterConfig{Engines: ids, Index: x, IndexTimeout: time.Second})
	require.NoError(b, err)
	system := append(append([]int32{}, prompt[:1024]...), seqTokens(benchTokens-1024, -9_000_000)...)
	for _, c := range []struct {
		name   string
		tokens []int32
	}{{"hit", prompt}, {"system-prompt", system}, {"miss", seqTokens(benchTokens, -5_000_000)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := r.Route(ctx, c.tokens, RouteOptions{DryRun: true})
				if err != nil || d.Degraded {
					b.Fatal(err, r.Status().Reason)
				}
			}
		})
	}
}

// BenchmarkRedisMemoryPerBlock measures redis-server's used_memory per cached block
// (one engine per key; TTL set) on a server of its own.
func BenchmarkRedisMemoryPerBlock(b *testing.B) {
	if !realRedisAvailable() {
		b.Skip("redis-server not on PATH")
	}
	dir := b.TempDir()
	ctx := context.Background()
	for b.Loop() {
		srv, err := startRedisServer(dir)
		require.NoError(b, err)
		x, err := NewRedisIndex(RedisConfig{Addr: srv.addr(), Timeout: time.Minute})
		require.NoError(b, err)
		used := func() float64 {
			info, err := x.Client().Info(ctx, "memory").Result()
			require.NoError(b, err)
			var v float64
			for _, line := range strings.Split(info, "\r\n") {
				if n, ok := strings.CutPrefix(line, "used_memory:"); ok {
					v, err = strconv.ParseFloat(strings.TrimSpace(n), 64)
					require.NoError(b, err)
				}
			}
			return v
		}
		before := used()
		const keys = 1 << 17
		hs := make([]uint64, 4096)
		var batches []Batch
		for start := 0; start < keys; start += len(hs) {
			for i := range hs {
				hs[i] = uint64(start+i+1) * 0x9E3779B97F4A7C15
			}
			batches = append(batches, Batch{Engine: "e0", Seq: uint64(start / len(hs)), Events: []Event{gpu(append([]uint64(nil), hs...)...)}})
		}
		_, err = x.ApplyBatches(ctx, batches, nil)
		require.NoError(b, err)
		b.ReportMetric((used()-before)/keys, "bytes/key")
		_ = x.Close()
		srv.stop()
	}
}
