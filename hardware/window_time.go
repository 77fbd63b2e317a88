package hardware

import "math"

// IterationTimeWindowed is IterationTime for a model with sliding-window layers:
// its full-attention layers read contextTokens of cached KV and its window layers
// only windowContextTokens (each sequence at most its window's worth). Both the KV
// bytes and the attention FLOPs are counted per layer that way. For a model without
// a window it equals IterationTime(batchTokens, contextTokens).
func (d Deployment) IterationTimeWindowed(batchTokens, contextTokens, windowContextTokens int) float64 {
	if batchTokens == 0 {
		return 0
	}
	if d.Model.Window == 0 || d.Model.WindowLayers == 0 {
		return d.IterationTime(batchTokens, contextTokens)
	}
	tp := float64(d.TP)
	perLayer := d.KVBytesPerTokenPerLayerPerGPU()
	full, win := float64(d.Model.Layers-d.Model.WindowLayers), float64(d.Model.WindowLayers)
	read := full*float64(contextTokens) + win*float64(windowContextTokens) // layer-tokens of KV read
	bytes := d.Model.Params*d.WeightBytesPerParam/tp + (read+float64(d.Model.Layers*batchTokens))*perLayer
	flops := (2*d.Model.FLOPParams()*float64(batchTokens) + 4*float64(d.Model.Hidden)*read) / tp
	mem := bytes / (d.GPU.Bandwidth * d.MemEfficiency)
	cmp := flops / (d.GPU.PeakFLOPs * d.ComputeEfficiency)
	return d.Overhead + math.Max(mem, cmp)
}

// WindowContext returns the KV tokens a sliding window of window tokens lets n new
// tokens read when the full context they read is ctx: a prefill chunk of n tokens
// ending at position ctx reads at most n + window − 1 of them, n decoding sequences
// (ctx their total context) at most window each. 0 for no window.
func WindowContext(window, n, ctx int, decode bool) int {
	if window <= 0 {
		return 0
	}
	if decode {
		return min(ctx, n*window)
	}
	return min(ctx, n+window-1)
}
