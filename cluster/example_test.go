package cluster_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/pagedkv/pagedkv/cluster"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/prometheus/client_golang/prometheus"
)

// engineHashes hashes tokens' full blocks as an engine would (block size 4, the
// default hasher and seed) — in a fleet they arrive in the engines' KV events.
func engineHashes(tokens []int32) []uint64 {
	s, _ := prefix.New(prefix.Config{BlockSize: 4})
	c := s.NewChain(prefix.Extras{})
	c.Extend(tokens)
	out := make([]uint64, c.Len())
	for i := range out {
		out[i] = uint64(c.Hash(i))
	}
	return out
}

// The package's worked example: two engines report a cached system prompt (one on
// GPU, one on CPU), and the router sends a request that starts with it to the GPU
// copy.
func Example() {
	ctx := context.Background()
	idx, _ := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	system := []int32{1, 2, 3, 4, 5, 6, 7, 8}
	hs := engineHashes(system)
	_, _ = idx.Apply(ctx, cluster.Batch{Engine: "b", Seq: 0, Events: []cluster.Event{
		{Kind: cluster.Stored, Hashes: hs, Tier: cluster.TierGPU}}})
	_, _ = idx.Apply(ctx, cluster.Batch{Engine: "c", Seq: 0, Events: []cluster.Event{
		{Kind: cluster.Stored, Hashes: hs, Tier: cluster.TierCPU}}})

	r, _ := cluster.NewRouter(cluster.RouterConfig{
		Engines: []cluster.EngineID{"a", "b", "c"},
		Policy:  cluster.PolicyPrecise,
		Index:   idx,
		Hash:    cluster.HashConfig{BlockSize: 4},
	})
	prompt := append(append([]int32{}, system...), 9, 10)
	d, _ := r.Route(ctx, prompt, cluster.RouteOptions{})
	fmt.Printf("engine %s, expected hit %d of %d tokens, cost %.1f\n", d.Engine, d.HitTokens, d.PromptTokens, d.Cost)
	n, blocks := r.Load(d.EngineIndex)
	fmt.Println("load on", d.Engine, ":", n, "request,", blocks, "blocks")
	_ = r.Finish(d.Ticket, cluster.FinishOptions{})
	n, _ = r.Load(d.EngineIndex)
	fmt.Println("after finish:", n)
	// Output:
	// engine b, expected hit 8 of 10 tokens, cost 3.5
	// load on b : 1 request, 3 blocks
	// after finish: 0
}

// Route with the approximate policy: no events, the router predicts each engine's
// cache from its own decisions (a paged.Manager replica per engine).
func ExampleRouter_Route() {
	ctx := context.Background()
	r, _ := cluster.NewRouter(cluster.RouterConfig{
		Engines:       []cluster.EngineID{"a", "b"},
		Policy:        cluster.PolicyApproximate,
		ReplicaBlocks: 1024, // each engine's KV cache, in blocks
		Hash:          cluster.HashConfig{BlockSize: 4},
	})
	chat := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	d, _ := r.Route(ctx, chat, cluster.RouteOptions{ExpectedOutputTokens: 4})
	fmt.Println("turn 1 ->", d.Engine, "hit", d.HitTokens)
	reply := []int32{50, 51, 52, 53}
	_ = r.Finish(d.Ticket, cluster.FinishOptions{Output: reply})

	turn2 := append(append(append([]int32{}, chat...), reply...), 60, 61, 62)
	d, _ = r.Route(ctx, turn2, cluster.RouteOptions{ExpectedOutputTokens: 4})
	fmt.Println("turn 2 ->", d.Engine, "hit", d.HitTokens)
	_ = r.Finish(d.Ticket, cluster.FinishOptions{})
	// Output:
	// turn 1 -> a hit 0
	// turn 2 -> a hit 12
}

// The index's sequence rules: duplicates are ignored, a gap hides the engine until
// the missing batch is replayed.
func ExampleMemoryIndex() {
	ctx := context.Background()
	idx, _ := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	stored := func(seq uint64, hs ...uint64) cluster.Batch {
		return cluster.Batch{Engine: "pod-0", Seq: seq, Events: []cluster.Event{{Kind: cluster.Stored, Hashes: hs}}}
	}
	show := func(what string, r cluster.ApplyResult) {
		m, _ := idx.Match(ctx, []uint64{11, 12, 13}, nil)
		fmt.Printf("%-9s %-9v next %d, match %v\n", what, r.Outcome, r.Next, m)
	}
	r, _ := idx.Apply(ctx, stored(0, 11))
	show("seq 0", r)
	r, _ = idx.Apply(ctx, stored(0, 11))
	show("seq 0", r)
	r, _ = idx.Apply(ctx, stored(2, 13))
	show("seq 2", r)
	r, _ = idx.Apply(ctx, stored(1, 12))
	show("seq 1", r)
	r, _ = idx.Apply(ctx, stored(2, 13))
	show("seq 2", r)
	// Output:
	// seq 0     applied   next 1, match [{pod-0 1 1}]
	// seq 0     duplicate next 1, match [{pod-0 1 1}]
	// seq 2     gap       next 1, match []
	// seq 1     applied   next 2, match []
	// seq 2     applied   next 3, match [{pod-0 3 3}]
}

// The Redis index: shared by every router replica that uses the same Redis and
// prefix (here an embedded miniredis).
func ExampleNewRedisIndex() {
	ctx := context.Background()
	mr, _ := miniredis.Run()
	defer mr.Close()
	replica1, _ := cluster.NewRedisIndex(cluster.RedisConfig{Addr: mr.Addr(), Prefix: "kv:{llama}:"})
	replica2, _ := cluster.NewRedisIndex(cluster.RedisConfig{Addr: mr.Addr(), Prefix: "kv:{llama}:"})
	defer replica1.Close()
	defer replica2.Close()

	b := cluster.Batch{Engine: "pod-0", Seq: 7, Events: []cluster.Event{
		{Kind: cluster.Stored, Hashes: []uint64{0xabc, 0xdef}, Tier: cluster.TierGPU}}}
	r1, _ := replica1.Apply(ctx, b)
	r2, _ := replica2.Apply(ctx, b) // both replicas' subscribers see the same stream
	m, _ := replica2.Match(ctx, []uint64{0xabc, 0xdef}, nil)
	fmt.Println(r1.Outcome, r2.Outcome, m)
	fmt.Println(mr.HKeys("kv:{llama}:b:0000000000000abc"))
	// Output:
	// applied duplicate [{pod-0 2 2}]
	// [pod-0|g|0] <nil>
}

// Exporting a paged.Manager's statistics in vLLM's metric names.
func ExampleNewManagerCollector() {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks = 64
	m, _ := paged.New(cfg)
	c := cluster.NewManagerCollector(cluster.CollectorOptions{ConstLabels: prometheus.Labels{"model_name": "llama"}})
	_ = c.Add("0", m)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, _ := reg.Gather()
	for _, mf := range mfs[len(mfs)-4:] {
		fmt.Println(mf.GetName())
	}
	// Output:
	// vllm:gpu_cache_usage_perc
	// vllm:kv_cache_usage_perc
	// vllm:prefix_cache_hits_total
	// vllm:prefix_cache_queries_total
}

// A Feed applies an engine's batches in order and handles a loss in its stream: the
// engine's entries are dropped (a miss costs a prefill; a stale hit would send
// requests to blocks that are gone), and the batches after the loss apply.
func ExampleFeed() {
	ctx := context.Background()
	idx, _ := cluster.NewMemoryIndex(cluster.MemoryConfig{})
	feed, _ := cluster.NewFeed(cluster.FeedConfig{Index: idx})
	defer feed.Close()
	stored := func(hs ...uint64) []cluster.Event {
		return []cluster.Event{{Kind: cluster.Stored, Hashes: hs, Tier: cluster.TierGPU}}
	}
	_ = feed.Apply(cluster.Batch{Engine: "a", Seq: 0, Events: stored(11, 12)})
	_ = feed.Flush(ctx)
	ms, _ := idx.Match(ctx, []uint64{11, 12}, nil)
	fmt.Println("before the loss:", ms)
	_ = feed.Lost("a", 1, 3) // batches 1 and 2 never arrived (one may have evicted 11)
	_ = feed.Apply(cluster.Batch{Engine: "a", Seq: 3, Events: stored(21)})
	_ = feed.Flush(ctx)
	ms, _ = idx.Match(ctx, []uint64{11, 12}, nil)
	fmt.Println("after:", ms)
	ms, _ = idx.Match(ctx, []uint64{21}, nil)
	fmt.Println("stored after the loss:", ms)
	fmt.Println("losses:", feed.Stats().Losses)
	// Output:
	// before the loss: [{a 2 2}]
	// after: []
	// stored after the loss: [{a 1 1}]
	// losses: 1
}
