// Package attention stores keys and values in paged arenas and runs attention through
// block tables, on the CPU. It knows a block table only as a []int32 of block ids and
// a slot as blockID×BlockSize+offset, so it works with package paged (whose
// BlockTable and SlotMapping produce exactly these) or any other block manager.
//
// # Storage
//
// A Cache holds, per layer, one K arena and one V arena laid out
// [block][kv head][token in block][head dim]. Element types are float32, float16,
// bfloat16 and FP8 E4M3 (see DType for their error bounds); they change the bytes per
// block, not the block logic. Write stores new tokens through a slot mapping;
// CopyBlocks performs a manager's copy-on-write list; MoveBlocks copies between a
// device tier and a host tier.
//
// # Kernels
//
// Kernel.Decode computes one query token per sequence over its cached context;
// Kernel.Prefill computes a chunk of query tokens causally over the cached prefix and
// themselves. Both support grouped-query attention (query heads sharing a KV head are
// computed together), a softmax scale, a sliding window or chunked local attention
// (Llama 4; chunk.go) and an online (flash-style) softmax; decode splits long
// contexts across workers and merges the partial softmax states. On amd64 CPUs with AVX2/FMA/F16C the inner loops are Go assembly
// (score_amd64.s, accum_amd64.s, softmax_amd64.s; see path.go for the paths and how
// to force one); otherwise portable Go, which uses simd/archsimd (AVX-512) under
// GOEXPERIMENT=simd. Reference is the float64 oracle the tests use.
//
// # Tensor parallelism and memory
//
// A Cache can hold one rank's shard of the KV heads (Config.TPSize, TPRank); its
// kernels then compute that rank's query heads. Large arenas are mapped with huge
// pages requested on Linux (Config.DisableHugePages opts out).
//
// # Example
//
//	c, _ := attention.NewCache(attention.Config{KVHeads: 1, HeadDim: 2,
//		BlockSize: 2, NumBlocks: 8}) // 1 layer, float32: the zero-value defaults
//	// block table [3 1]: tokens 0,1 in block 3 (slots 6,7), token 2 in block 1 (slot 2)
//	_ = c.Write(0, []int64{6, 7, 2}, keys, values)
//	kern := attention.NewKernel(0)
//	defer kern.Close()
//	_ = kern.Decode(c, 0, attention.Params{QHeads: 1}, q, [][]int32{{3, 1}}, []int{3}, out)
//
// (the runnable version is Example in example_test.go).
package attention
