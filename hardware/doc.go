// Package hardware describes where a model is served — its shape, the accelerator,
// the tensor-parallel degree and the memory split — and models how long one forward
// pass and one host↔GPU swap take. It imports no pagedkv package. The simulator
// (sim) sizes the KV cache and advances its clock with it; cmd/kvctl's simulated
// engine does the same; the benchmark suite (bench) uses the same time model to put a
// measured CPU cost beside the GPU step it accompanies.
//
// A Deployment is a model on TP GPUs of one kind:
//
//	d := hardware.Default()              // OPT-13B on one A100-40GB, 90% of memory
//	d.Model, _ = hardware.LookupModel("llama-3-8b")
//	d.GPU, _ = hardware.LookupGPU("a100-80")
//	if err := d.Validate(); err != nil { ... }
//	slots := d.KVSlots()                 // tokens of KV that fit beside the weights
//	step := d.IterationTime(32, 32*1000) // seconds: 32 decoding sequences, 1K context each
//
// KV bytes per token and GPU = 2 (K and V) × layers × KV heads per GPU × head dim ×
// bytes per element; the KV budget is MemUtil × GPU memory minus the GPU's share of
// the weights. The time model is a roofline (bytes over HBM bandwidth against FLOPs
// over peak compute) plus a fixed per-iteration overhead, the one constant calibrated
// to the vLLM paper (see Default). Swapping is modelled as an engine performs it
// (HostCopyTime): one copy per block per layer for K and one for V, each with a
// fixed cost (HostCopyLatency, 5 µs per cudaMemcpyAsync call), plus the bytes over
// the host link (HostBandwidth), so small blocks swap slowly (the vLLM paper's
// Fig. 19).
//
// The built-in models and GPUs are read-only: LookupModel, ModelNames, LookupGPU and
// GPUNames return copies.
package hardware
