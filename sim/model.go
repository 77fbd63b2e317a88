package sim

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// ErrInvalid reports a bad simulator configuration, workload or trace.
var ErrInvalid = errors.New("sim: invalid input")

// GiB is 2^30 bytes.
const GiB = 1 << 30

// Model is a decoder-only transformer's shape, enough to size its KV cache, weights
// and per-token compute.
type Model struct {
	Name      string
	Layers    int
	KVHeads   int // key/value heads (= attention heads without GQA)
	HeadDim   int
	Hidden    int     // model width (attention FLOPs)
	Params    float64 // parameter count (weights and linear-layer FLOPs)
	MaxSeqLen int     // longest sequence the model serves (Orca-Max reservation)
}

// KVBytesPerToken returns 2 (K and V) × layers × KV heads × head dim × bytes/element.
func (m Model) KVBytesPerToken(bytesPerElem float64) float64 {
	return 2 * float64(m.Layers*m.KVHeads*m.HeadDim) * bytesPerElem
}

// Models are the built-in shapes (from the models' published configs).
var Models = map[string]Model{
	"opt-13b":     {Name: "OPT-13B", Layers: 40, KVHeads: 40, HeadDim: 128, Hidden: 5120, Params: 12.85e9, MaxSeqLen: 2048},
	"llama-2-7b":  {Name: "Llama-2-7B", Layers: 32, KVHeads: 32, HeadDim: 128, Hidden: 4096, Params: 6.74e9, MaxSeqLen: 4096},
	"llama-2-13b": {Name: "Llama-2-13B", Layers: 40, KVHeads: 40, HeadDim: 128, Hidden: 5120, Params: 13.0e9, MaxSeqLen: 4096},
	"llama-2-70b": {Name: "Llama-2-70B", Layers: 80, KVHeads: 8, HeadDim: 128, Hidden: 8192, Params: 69.0e9, MaxSeqLen: 4096},
	"llama-3-8b":  {Name: "Llama-3-8B", Layers: 32, KVHeads: 8, HeadDim: 128, Hidden: 4096, Params: 8.03e9, MaxSeqLen: 8192},
	"llama-3-70b": {Name: "Llama-3-70B", Layers: 80, KVHeads: 8, HeadDim: 128, Hidden: 8192, Params: 70.6e9, MaxSeqLen: 8192},
	// Llama 3.1: the same shapes with a 128K context (what the Mooncake traces need).
	"llama-3.1-8b":  {Name: "Llama-3.1-8B", Layers: 32, KVHeads: 8, HeadDim: 128, Hidden: 4096, Params: 8.03e9, MaxSeqLen: 131072},
	"llama-3.1-70b": {Name: "Llama-3.1-70B", Layers: 80, KVHeads: 8, HeadDim: 128, Hidden: 8192, Params: 70.6e9, MaxSeqLen: 131072},
	"mistral-7b":    {Name: "Mistral-7B", Layers: 32, KVHeads: 8, HeadDim: 128, Hidden: 4096, Params: 7.24e9, MaxSeqLen: 32768},
}

// GPU is one accelerator: memory, HBM bandwidth and dense 16-bit peak compute.
type GPU struct {
	Name      string
	MemBytes  float64
	Bandwidth float64 // bytes/s
	PeakFLOPs float64 // FLOP/s, dense fp16/bf16
}

// GPUs are the built-in accelerators (vendor data sheets; SXM parts).
var GPUs = map[string]GPU{
	"a100-40":  {Name: "A100-40GB", MemBytes: 40 * GiB, Bandwidth: 1555e9, PeakFLOPs: 312e12},
	"a100-80":  {Name: "A100-80GB", MemBytes: 80 * GiB, Bandwidth: 2039e9, PeakFLOPs: 312e12},
	"h100-80":  {Name: "H100-80GB", MemBytes: 80 * GiB, Bandwidth: 3350e9, PeakFLOPs: 989e12},
	"h200-141": {Name: "H200-141GB", MemBytes: 141e9, Bandwidth: 4800e9, PeakFLOPs: 989e12},
}

// Names returns the sorted keys of a built-in table, for flag help and errors.
func Names[T any](m map[string]T) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// Hardware is a deployment: a model on TP GPUs of one kind.
type Hardware struct {
	Model Model
	GPU   GPU
	// TP is the tensor-parallel degree: weights and KV heads are split over TP GPUs.
	TP int
	// MemUtil is the fraction of GPU memory the engine may use (weights + KV). 0.9.
	MemUtil float64
	// KVBytesPerElem is 2 for fp16/bf16 KV, 1 for 8-bit KV.
	KVBytesPerElem float64
	// WeightBytesPerParam is 2 for fp16/bf16 weights.
	WeightBytesPerParam float64
	// Time model constants: iteration time = Overhead + max(bytes moved /
	// (Bandwidth × MemEfficiency), FLOPs / (PeakFLOPs × ComputeEfficiency)).
	MemEfficiency, ComputeEfficiency float64
	Overhead                         float64 // seconds per iteration (launch, sampling, scheduling)
	// HostBandwidth is the host↔GPU copy rate for swapping, bytes/s (PCIe 4.0 x16,
	// about 25 GB/s in practice).
	HostBandwidth float64
	// HostCopyLatency is the fixed cost of one block copy between host and GPU
	// (each block is its own transfer, as in vLLM's swap kernel), seconds.
	HostCopyLatency float64
}

// DefaultHardware is OPT-13B on one A100-40GB, 16-bit weights and KV, 90% of memory.
func DefaultHardware() Hardware {
	return Hardware{Model: Models["opt-13b"], GPU: GPUs["a100-40"], TP: 1, MemUtil: 0.9,
		KVBytesPerElem: 2, WeightBytesPerParam: 2, MemEfficiency: 0.8, ComputeEfficiency: 0.5, Overhead: 0.012,
		HostBandwidth: 25e9, HostCopyLatency: 5e-6}
}

// kvHeadsPerGPU: KV heads are split over TP GPUs (replicated when fewer than TP).
func (h Hardware) kvHeadsPerGPU() int { return max(1, (h.Model.KVHeads+h.TP-1)/h.TP) }

// KVBytesPerTokenPerGPU is the KV footprint of one token on one GPU.
func (h Hardware) KVBytesPerTokenPerGPU() float64 {
	return 2 * float64(h.Model.Layers*h.kvHeadsPerGPU()*h.Model.HeadDim) * h.KVBytesPerElem
}

// KVBudgetBytes is the KV memory of one GPU: MemUtil × memory − its share of weights.
func (h Hardware) KVBudgetBytes() float64 {
	return h.MemUtil*h.GPU.MemBytes - h.Model.Params*h.WeightBytesPerParam/float64(h.TP)
}

// KVSlots returns how many tokens' KV fit in the budget.
func (h Hardware) KVSlots() int {
	return int(h.KVBudgetBytes() / h.KVBytesPerTokenPerGPU())
}

// NumBlocks returns the number of KV blocks of blockSize tokens.
func (h Hardware) NumBlocks(blockSize int) int { return h.KVSlots() / blockSize }

// Validate checks the deployment can hold its weights and some KV.
func (h Hardware) Validate() error {
	switch {
	case h.TP <= 0:
		return fmt.Errorf("%w: tensor-parallel degree %d", ErrInvalid, h.TP)
	case !(h.MemUtil > 0 && h.MemUtil <= 1):
		return fmt.Errorf("%w: memory utilisation %v not in (0,1]", ErrInvalid, h.MemUtil)
	case h.KVBytesPerElem <= 0 || h.WeightBytesPerParam <= 0:
		return fmt.Errorf("%w: element sizes must be positive", ErrInvalid)
	case h.KVSlots() < h.Model.MaxSeqLen/16:
		return fmt.Errorf("%w: %s on %d× %s leaves %.1f GiB for KV (%d tokens)", ErrInvalid,
			h.Model.Name, h.TP, h.GPU.Name, h.KVBudgetBytes()/GiB, max(0, h.KVSlots()))
	}
	return nil
}

// IterationTime models one forward pass over batchTokens new tokens (prefill plus one
// per decoding sequence) that read contextTokens of cached KV in total: a roofline of
// the bytes moved (weights once per GPU, KV read and written) over HBM bandwidth
// against the FLOPs (2 × params per token plus 4 × hidden × layers per
// query-context pair) over peak compute, plus a fixed overhead. All GPUs of a TP group
// work in parallel on their shares.
func (h Hardware) IterationTime(batchTokens, contextTokens int) float64 {
	if batchTokens == 0 {
		return 0
	}
	tp := float64(h.TP)
	kv := h.KVBytesPerTokenPerGPU()
	bytes := h.Model.Params*h.WeightBytesPerParam/tp + float64(contextTokens+batchTokens)*kv
	flops := (2*h.Model.Params*float64(batchTokens) +
		4*float64(h.Model.Hidden*h.Model.Layers)*float64(contextTokens)) / tp
	mem := bytes / (h.GPU.Bandwidth * h.MemEfficiency)
	cmp := flops / (h.GPU.PeakFLOPs * h.ComputeEfficiency)
	return h.Overhead + math.Max(mem, cmp)
}
