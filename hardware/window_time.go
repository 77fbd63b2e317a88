package hardware

import "math"

// IterationTimeWindowed is IterationTime for a model with sliding-window (or
// chunked-local) layers: its full-attention layers read contextTokens of cached KV
// and its window (chunk) layers only windowContextTokens (each sequence at most its
// window's or chunk's worth: WindowContext, ChunkContext). Both the KV bytes and the
// attention FLOPs are counted per layer that way. For a model without local layers
// it equals IterationTime(batchTokens, contextTokens).
func (d Deployment) IterationTimeWindowed(batchTokens, contextTokens, windowContextTokens int) float64 {
	if batchTokens == 0 {
		return 0
	}
	if !d.Model.HasLocalAttention() {
		return d.IterationTime(batchTokens, contextTokens)
	}
	tp := float64(d.TP)
	perLayer := d.KVBytesPerTokenPerLayerPerGPU()
	full, win := float64(d.Model.Layers-d.Model.LocalLayers()), float64(d.Model.LocalLayers())
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

// ChunkContext returns the KV tokens chunked local attention with chunks of chunk
// tokens lets n new tokens read, like WindowContext: a prefill chunk of n tokens at
// positions [ctx−n, ctx) reads the union of its queries' chunks, from the chunk
// start of position ctx−n to ctx−1; n decoding sequences with ctx cached tokens in
// all (ctx/n each, the new token at position ctx/n) read each the cached tokens of
// its own chunk, ctx/n mod chunk. 0 for no chunk.
func ChunkContext(chunk, n, ctx int, decode bool) int {
	if chunk <= 0 || n <= 0 {
		return 0
	}
	if decode {
		return n * (ctx / n % chunk)
	}
	first := max(0, ctx-n)
	return ctx - first/chunk*chunk
}
