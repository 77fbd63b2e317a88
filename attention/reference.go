package attention

import (
	"math"

	"gonum.org/v1/gonum/floats"
)

// Reference computes attention densely in float64 over contiguous keys and values;
// it is the oracle the paged kernels are tested against. q is [query][qHeads][d];
// keys and values are [position][kvHeads][d] for positions 0..ctx-1; query i sits at
// position positions[i] and attends to positions (positions[i] − window,
// positions[i]] (window 0: all earlier positions). The result is [query][qHeads][d].
func Reference(q, keys, values []float32, qHeads, kvHeads, d int, positions []int, scale float64, window int) []float64 {
	return reference(q, keys, values, qHeads, kvHeads, d, positions, scale, Params{Window: window})
}

// ReferenceChunked is Reference under chunked local attention (Params.Chunk): query
// i attends to positions [⌊positions[i]/chunk⌋·chunk, positions[i]] (chunk 0: all
// earlier positions).
func ReferenceChunked(q, keys, values []float32, qHeads, kvHeads, d int, positions []int, scale float64, chunk int) []float64 {
	return reference(q, keys, values, qHeads, kvHeads, d, positions, scale, Params{Chunk: chunk})
}

// reference is Reference under the mask of p (its Window or Chunk).
func reference(q, keys, values []float32, qHeads, kvHeads, d int, positions []int, scale float64, p Params) []float64 {
	g := qHeads / kvHeads
	out := make([]float64, len(positions)*qHeads*d)
	qv := make([]float64, d)
	kv := make([]float64, d)
	for i, pos := range positions {
		lo := 0 // written out here, not shared with the kernels: this is the oracle
		switch {
		case p.Window > 0:
			lo = max(0, pos-p.Window+1)
		case p.Chunk > 0:
			lo = pos - pos%p.Chunk
		}
		for h := range qHeads {
			for x := range d {
				qv[x] = float64(q[(i*qHeads+h)*d+x])
			}
			kh := h / g
			scores := make([]float64, pos-lo+1)
			m := math.Inf(-1)
			for t := lo; t <= pos; t++ {
				for x := range d {
					kv[x] = float64(keys[(t*kvHeads+kh)*d+x])
				}
				scores[t-lo] = floats.Dot(qv, kv) * scale
				m = math.Max(m, scores[t-lo])
			}
			var sum float64
			o := out[(i*qHeads+h)*d : (i*qHeads+h+1)*d]
			for t := lo; t <= pos; t++ {
				e := math.Exp(scores[t-lo] - m)
				sum += e
				for x := range d {
					o[x] += e * float64(values[(t*kvHeads+kh)*d+x])
				}
			}
			floats.Scale(1/sum, o)
		}
	}
	return out
}
