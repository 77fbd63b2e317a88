package hardware

import "math"

// IterationTime models one forward pass over batchTokens new tokens (prefill plus
// one per decoding sequence) that read contextTokens of cached KV in total: Overhead
// plus RooflineTime. It is 0 for an empty batch.
func (d Deployment) IterationTime(batchTokens, contextTokens int) float64 {
	if batchTokens == 0 {
		return 0
	}
	return d.Overhead + d.RooflineTime(batchTokens, contextTokens)
}

// RooflineTime is the time model without the fixed overhead: the bytes moved
// (weights once per GPU, KV read and written) over HBM bandwidth against the FLOPs
// (2 × params per token plus 4 × hidden × layers per query-context pair) over peak
// compute, whichever is larger. All GPUs of a TP group work in parallel on their
// shares. It is 0 for an empty batch.
func (d Deployment) RooflineTime(batchTokens, contextTokens int) float64 {
	if batchTokens == 0 {
		return 0
	}
	tp := float64(d.TP)
	kv := d.KVBytesPerTokenPerGPU()
	bytes := d.Model.Params*d.WeightBytesPerParam/tp + float64(contextTokens+batchTokens)*kv
	flops := (2*d.Model.Params*float64(batchTokens) +
		4*float64(d.Model.Hidden*d.Model.Layers)*float64(contextTokens)) / tp
	mem := bytes / (d.GPU.Bandwidth * d.MemEfficiency)
	cmp := flops / (d.GPU.PeakFLOPs * d.ComputeEfficiency)
	return math.Max(mem, cmp)
}
