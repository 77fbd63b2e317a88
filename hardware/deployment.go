package hardware

import (
	"fmt"
	"math"
)

// Deployment is a model served on TP GPUs of one kind, with the memory split and the
// time model's constants. Its methods use the fields as they are; WithDefaults fills
// zero fields and Validate checks the result.
type Deployment struct {
	// Model is the model served. A zero Model means Default's (OPT-13B).
	Model Model
	// GPU is the accelerator. A zero GPU means Default's (A100-40GB).
	GPU GPU
	// TP is the tensor-parallel degree: weights and KV heads are split over TP GPUs.
	// It must divide the model's attention heads, and either divide its KV heads or
	// be a multiple of them (KV heads are then replicated), as in vLLM. Default 1.
	TP int
	// MemUtil is the fraction of GPU memory the engine may use (weights + KV), in
	// (0, 1]. Default 0.9.
	MemUtil float64
	// KVBytesPerElem is 2 for fp16/bf16 KV, 1 for 8-bit KV; in (0, 8]. Default 2.
	KVBytesPerElem float64
	// WeightBytesPerParam is 2 for fp16/bf16 weights; in (0, 8]. Default 2.
	WeightBytesPerParam float64
	// Time model: iteration time = Overhead + max(bytes moved / (Bandwidth ×
	// MemEfficiency), FLOPs / (PeakFLOPs × ComputeEfficiency)). The efficiencies are
	// in (0, 1]; defaults 0.8 and 0.5.
	MemEfficiency, ComputeEfficiency float64
	// Overhead is the fixed cost of one iteration (launch, sampling, scheduling), in
	// seconds. Default 0.012, calibrated so the paged policy's mean batch on the vLLM
	// paper's default workload matches its Fig. 13a (30.4). Zero means the default;
	// RooflineTime is the time model without it.
	Overhead float64
	// HostBandwidth is the host↔GPU copy rate for swapping, bytes/s (each GPU of a
	// TP group has its own link). Default 25e9 (PCIe 4.0 x16 in practice).
	HostBandwidth float64
	// HostCopyLatency is the fixed cost of one copy an engine issues between host
	// and GPU, seconds. An engine issues one copy per block per layer for K and one
	// for V (vLLM's swap: swap_blocks runs a cudaMemcpyAsync per block, called for
	// each layer's key cache and value cache), so a block costs 2 × Layers of them;
	// see HostCopyTime. Default 5e-6: the low end of the 5–7 µs per cudaMemcpyAsync
	// call measured for small copies (DualPath, arXiv 2602.21548, §5.2).
	HostCopyLatency float64
}

// Default is OPT-13B on one A100-40GB with 16-bit weights and KV and 90% of memory:
// the vLLM paper's setting.
func Default() Deployment {
	return Deployment{Model: models["opt-13b"], GPU: gpus["a100-40"], TP: 1, MemUtil: 0.9,
		KVBytesPerElem: 2, WeightBytesPerParam: 2, MemEfficiency: 0.8, ComputeEfficiency: 0.5, Overhead: 0.012,
		HostBandwidth: 25e9, HostCopyLatency: 5e-6}
}

// WithDefaults returns d with every zero field replaced by Default's value (Model
// and GPU only when entirely zero).
func (d Deployment) WithDefaults() Deployment {
	def := Default()
	if d.Model == (Model{}) {
		d.Model = def.Model
	}
	if d.GPU == (GPU{}) {
		d.GPU = def.GPU
	}
	setInt(&d.TP, def.TP)
	for _, f := range []struct{ v, def *float64 }{
		{&d.MemUtil, &def.MemUtil}, {&d.KVBytesPerElem, &def.KVBytesPerElem},
		{&d.WeightBytesPerParam, &def.WeightBytesPerParam}, {&d.MemEfficiency, &def.MemEfficiency},
		{&d.ComputeEfficiency, &def.ComputeEfficiency}, {&d.Overhead, &def.Overhead},
		{&d.HostBandwidth, &def.HostBandwidth}, {&d.HostCopyLatency, &def.HostCopyLatency},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return d
}

func setInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// Validate checks the model and GPU, every field's range (see the field docs), and
// that the deployment can hold its weights and some KV: at least a sixteenth of the
// model's context. It does not apply defaults: call WithDefaults first.
func (d Deployment) Validate() error {
	if err := d.Model.Validate(); err != nil {
		return err
	}
	if err := d.GPU.Validate(); err != nil {
		return err
	}
	if err := d.Model.CheckTP(d.TP); err != nil {
		return err
	}
	for _, f := range []struct {
		name   string
		v, max float64
		zeroOK bool
	}{
		{"MemUtil", d.MemUtil, 1, false}, {"KVBytesPerElem", d.KVBytesPerElem, 8, false},
		{"WeightBytesPerParam", d.WeightBytesPerParam, 8, false}, {"MemEfficiency", d.MemEfficiency, 1, false},
		{"ComputeEfficiency", d.ComputeEfficiency, 1, false}, {"Overhead", d.Overhead, 60, true},
		{"HostBandwidth", d.HostBandwidth, math.MaxFloat64, false}, {"HostCopyLatency", d.HostCopyLatency, 60, true},
	} {
		if !(f.v > 0 || f.zeroOK && f.v == 0) || !(f.v <= f.max) {
			lo := "(0"
			if f.zeroOK {
				lo = "[0"
			}
			return fmt.Errorf("%w: %s %v not in %s, %g]", ErrInvalid, f.name, f.v, lo, f.max)
		}
	}
	if d.KVSlots() < d.Model.MaxSeqLen/16 {
		return fmt.Errorf("%w: %s on %d× %s leaves %.1f GiB for KV (%d tokens)", ErrInvalid,
			d.Model.Name, d.TP, d.GPU.Name, d.KVBudgetBytes()/GiB, max(0, d.KVSlots()))
	}
	return nil
}

// kvHeadsPerGPU: KV heads are split over TP GPUs (replicated when fewer than TP).
func (d Deployment) kvHeadsPerGPU() int { return max(1, (d.Model.KVHeads+d.TP-1)/d.TP) }

// KVBytesPerTokenPerGPU is the KV footprint of one token on one GPU.
func (d Deployment) KVBytesPerTokenPerGPU() float64 {
	return 2 * float64(d.Model.Layers*d.kvHeadsPerGPU()*d.Model.HeadDim) * d.KVBytesPerElem
}

// KVBudgetBytes is the KV memory of one GPU: MemUtil × memory − its share of weights.
func (d Deployment) KVBudgetBytes() float64 {
	return d.MemUtil*d.GPU.MemBytes - d.Model.Params*d.WeightBytesPerParam/float64(d.TP)
}

// KVSlots returns how many tokens' KV fit in the budget (negative when the weights
// alone do not fit).
func (d Deployment) KVSlots() int {
	return int(d.KVBudgetBytes() / d.KVBytesPerTokenPerGPU())
}

// NumBlocks returns the number of KV blocks of blockSize tokens.
func (d Deployment) NumBlocks(blockSize int) int { return d.KVSlots() / blockSize }
