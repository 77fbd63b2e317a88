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
// computed together), a softmax scale, a sliding window and an online (flash-style)
// softmax; decode splits long contexts across workers and merges the partial softmax
// states. With GOEXPERIMENT=simd on amd64 the inner loops use simd/archsimd
// (AVX-512); otherwise portable Go. Reference is the float64 oracle the tests use.
//
// # Example
//
//	c, _ := attention.NewCache(attention.Config{Layers: 1, KVHeads: 1, HeadDim: 2,
//		BlockSize: 2, NumBlocks: 8, DType: attention.Float32})
//	// block table [3 1]: tokens 0,1 in block 3 (slots 6,7), token 2 in block 1 (slot 2)
//	_ = c.Write(0, []int64{6, 7, 2}, keys, values)
//	kern := attention.NewKernel(0)
//	defer kern.Close()
//	_ = kern.Decode(c, 0, attention.Params{QHeads: 1}, q, [][]int32{{3, 1}}, []int{3}, out)
//
// (the runnable version is Example in example_test.go).
package attention
