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
// (2 × params per token — FLOPParams: the active ones of a mixture of experts —
// plus 4 × hidden × layers per query-context pair) over peak
// compute, whichever is larger. All GPUs of a TP group work in parallel on their
// shares. It is 0 for an empty batch.
func (d Deployment) RooflineTime(batchTokens, contextTokens int) float64 {
	if batchTokens == 0 {
		return 0
	}
	tp := float64(d.TP)
	kv := d.KVBytesPerTokenPerGPU()
	bytes := d.Model.Params*d.WeightBytesPerParam/tp + float64(contextTokens+batchTokens)*kv
	flops := (2*d.Model.FLOPParams()*float64(batchTokens) +
		4*float64(d.Model.Hidden*d.Model.Layers)*float64(contextTokens)) / tp
	mem := bytes / (d.GPU.Bandwidth * d.MemEfficiency)
	cmp := flops / (d.GPU.PeakFLOPs * d.ComputeEfficiency)
	return math.Max(mem, cmp)
}

// HostCopyTime models moving blocks KV blocks of blockSize tokens between host and
// GPU memory (swapping out or in) as an engine does it: one copy per block per
// layer for K and one for V, 2 × Layers × blocks copies each paying
// HostCopyLatency, plus the blocks' bytes on one GPU over HostBandwidth (the GPUs of
// a TP group copy their shares in parallel). Small blocks therefore swap slowly:
// the per-copy cost is paid per block whatever its size. It is 0 for no blocks.
func (d Deployment) HostCopyTime(blocks, blockSize int) float64 {
	if blocks <= 0 {
		return 0
	}
	copies := 2 * float64(d.Model.Layers) * float64(blocks)
	bytes := float64(blocks) * float64(blockSize) * d.KVBytesPerTokenPerGPU()
	return copies*d.HostCopyLatency + bytes/d.HostBandwidth
}
