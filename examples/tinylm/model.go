package main

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/pagedkv/pagedkv/attention"
	"github.com/pagedkv/pagedkv/paged"
)

// Model is a tiny decoder-only transformer with random weights: token and learned
// position embeddings, pre-norm blocks of grouped-query attention and a ReLU MLP, a
// final norm and a language-model head. Big enough to exercise every path, small
// enough to recompute without a cache in a test.
type Model struct {
	Vocab, Dim, Layers, QHeads, KVHeads, HeadDim, Hidden, MaxPos int
	// Windows[l] is layer l's sliding window (0: full attention); nil: every layer
	// full (see NewHybridModel).
	Windows []int
	// Chunks[l] is layer l's attention chunk (chunked local attention, Llama 4's:
	// 0 for none); nil: no chunked layers (see NewChunkedModel). A layer has a
	// window or a chunk, not both.
	Chunks []int
	// KeepWindowBlocks serves the windowed layers from the full-attention layers'
	// table (one KV-cache group, nothing released; vLLM's
	// --disable-hybrid-kv-cache-manager): the same outputs, more memory.
	KeepWindowBlocks bool

	emb, pos []float32 // [Vocab][Dim], [MaxPos][Dim]
	layers   []layer
	head     []float32 // [Dim][Vocab]
}

type layer struct {
	wq, wk, wv, wo, w1, w2 []float32 // row-major [in][out]
}

// NewModel makes a model with seeded random weights.
func NewModel(seed uint64) *Model {
	m := &Model{Vocab: 64, Dim: 32, Layers: 2, QHeads: 4, KVHeads: 2, HeadDim: 16, Hidden: 64, MaxPos: 512}
	r := rand.New(rand.NewPCG(seed, 1))
	mat := func(in, out int) []float32 {
		w := make([]float32, in*out)
		s := 1 / math.Sqrt(float64(in))
		for i := range w {
			w[i] = float32(r.NormFloat64() * s)
		}
		return w
	}
	m.emb, m.pos = mat(m.Vocab, m.Dim), mat(m.MaxPos, m.Dim)
	for i := range m.pos {
		m.pos[i] *= 0.3
	}
	q, kv := m.QHeads*m.HeadDim, m.KVHeads*m.HeadDim
	for range m.Layers {
		m.layers = append(m.layers, layer{wq: mat(m.Dim, q), wk: mat(m.Dim, kv), wv: mat(m.Dim, kv),
			wo: mat(q, m.Dim), w1: mat(m.Dim, m.Hidden), w2: mat(m.Hidden, m.Dim)})
	}
	m.head = mat(m.Dim, m.Vocab)
	return m
}

// NewHybridModel makes a model of 4 layers alternating full attention and a
// sliding window of window tokens (Gemma 2's pattern): two KV-cache groups.
func NewHybridModel(seed uint64, window int) *Model {
	m := NewModel(seed)
	m2 := NewModel(seed + 1000) // two more layers
	m.layers = append(m.layers, m2.layers...)
	m.Layers = len(m.layers)
	for l := range m.Layers {
		m.Windows = append(m.Windows, window*(l%2))
	}
	return m
}

// NewChunkedModel makes a model of 4 layers alternating full attention and chunked
// local attention over chunks of chunk tokens (Llama 4's pattern, there three
// chunked layers of every four): two KV-cache groups.
func NewChunkedModel(seed uint64, chunk int) *Model {
	m := NewHybridModel(seed, 0)
	m.Windows = nil
	for l := range m.Layers {
		m.Chunks = append(m.Chunks, chunk*(l%2))
	}
	return m
}

// window returns layer l's sliding window (0: none).
func (m *Model) window(l int) int {
	if m.Windows == nil {
		return 0
	}
	return m.Windows[l]
}

// chunk returns layer l's attention chunk (0: none).
func (m *Model) chunk(l int) int {
	if m.Chunks == nil {
		return 0
	}
	return m.Chunks[l]
}

// hybrid reports whether the model has sliding-window or chunked layers.
func (m *Model) hybrid() bool { return m.Windows != nil || m.Chunks != nil }

// group returns layer l's KV-cache group kind: its attention and window or chunk.
func (m *Model) group(l int) paged.KVGroup {
	switch {
	case m.window(l) > 0:
		return paged.KVGroup{Kind: paged.SlidingWindow, Window: m.window(l)}
	case m.chunk(l) > 0:
		return paged.KVGroup{Kind: paged.ChunkedLocal, Window: m.chunk(l)}
	}
	return paged.KVGroup{Kind: paged.FullAttention}
}

// Groups returns the model's KV-cache groups for package paged: nil for a model
// whose layers all attend fully (the plain single-table manager), else one group
// per distinct window or chunk, in order of first appearance, with its layers' KV
// bytes per token at elemBytes per element.
func (m *Model) Groups(elemBytes int) []paged.KVGroup {
	if !m.hybrid() {
		return nil
	}
	if m.KeepWindowBlocks {
		return []paged.KVGroup{{BytesPerToken: int64(2 * m.Layers * m.KVHeads * m.HeadDim * elemBytes)}}
	}
	var gs []paged.KVGroup
	for l := range m.Layers {
		g := m.GroupOf(l)
		if g == len(gs) {
			gs = append(gs, m.group(l))
		}
		gs[g].BytesPerToken += int64(2 * m.KVHeads * m.HeadDim * elemBytes)
	}
	return gs
}

// GroupOf returns the KV-cache group of layer l: the index of its kind (window or
// chunk) among the distinct kinds in order of first appearance (0 without windows
// or chunks).
func (m *Model) GroupOf(l int) int {
	if !m.hybrid() || m.KeepWindowBlocks {
		return 0
	}
	var seen []paged.KVGroup
	for j := range l + 1 {
		if !slices.Contains(seen, m.group(j)) {
			seen = append(seen, m.group(j))
		}
	}
	return slices.Index(seen, m.group(l))
}

// CacheConfig is the KV-cache shape of one tensor-parallel rank for this model.
func (m *Model) CacheConfig(ec EngineConfig, rank int) attention.Config {
	return attention.Config{Layers: m.Layers, KVHeads: m.KVHeads, HeadDim: m.HeadDim, BlockSize: ec.BlockSize,
		NumBlocks: ec.NumBlocks, DType: ec.DType, TPSize: ec.TP, TPRank: rank}
}

// Params are layer l's attention parameters.
func (m *Model) Params(l int) attention.Params {
	return attention.Params{QHeads: m.QHeads, Window: m.window(l), Chunk: m.chunk(l)}
}

func matvec(x, w []float32, out int) []float32 {
	y := make([]float32, out)
	for i, xi := range x {
		row := w[i*out : (i+1)*out]
		for j := range y {
			y[j] += xi * row[j]
		}
	}
	return y
}

func rmsnorm(x []float32) []float32 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(s/float64(len(x))+1e-6))
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = v * inv
	}
	return y
}

func add(x, y []float32) {
	for i := range x {
		x[i] += y[i]
	}
}

// Argmax returns the index of the largest logit.
func Argmax(v []float32) int32 {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return int32(best)
}

// attendFunc computes attention outputs ([token][QHeads×HeadDim]) for one layer from
// the tokens' queries, after their keys and values have been produced.
type attendFunc func(layer int, q, k, v [][]float32) [][]float32

// forward runs the model over tokens at positions, delegating attention, and returns
// each token's logits.
func (m *Model) forward(tokens []int32, positions []int, attend attendFunc) [][]float32 {
	n := len(tokens)
	x := make([][]float32, n)
	for i, t := range tokens {
		x[i] = make([]float32, m.Dim)
		copy(x[i], m.emb[int(t)*m.Dim:(int(t)+1)*m.Dim])
		add(x[i], m.pos[positions[i]*m.Dim:(positions[i]+1)*m.Dim])
	}
	q, kv := m.QHeads*m.HeadDim, m.KVHeads*m.HeadDim
	for l, ly := range m.layers {
		qs, ks, vs := make([][]float32, n), make([][]float32, n), make([][]float32, n)
		for i := range x {
			h := rmsnorm(x[i])
			qs[i], ks[i], vs[i] = matvec(h, ly.wq, q), matvec(h, ly.wk, kv), matvec(h, ly.wv, kv)
		}
		o := attend(l, qs, ks, vs)
		for i := range x {
			add(x[i], matvec(o[i], ly.wo, m.Dim))
			h := rmsnorm(x[i])
			a := matvec(h, ly.w1, m.Hidden)
			for j := range a {
				a[j] = max(a[j], 0)
			}
			add(x[i], matvec(a, ly.w2, m.Dim))
		}
	}
	logits := make([][]float32, n)
	for i := range x {
		logits[i] = matvec(rmsnorm(x[i]), m.head, m.Vocab)
	}
	return logits
}

// Recompute runs the whole sequence without any cache (dense float64 attention over
// every earlier position, or the layer's window or chunk) and returns the logits at every
// position: the oracle.
func (m *Model) Recompute(tokens []int32) [][]float32 {
	pos := make([]int, len(tokens))
	for i := range pos {
		pos[i] = i
	}
	return m.forward(tokens, pos, func(l int, q, k, v [][]float32) [][]float32 {
		flat := func(rows [][]float32) []float32 {
			var out []float32
			for _, r := range rows {
				out = append(out, r...)
			}
			return out
		}
		scale := 1 / math.Sqrt(float64(m.HeadDim))
		ref := attention.Reference(flat(q), flat(k), flat(v), m.QHeads, m.KVHeads, m.HeadDim, pos, scale, m.window(l))
		if c := m.chunk(l); c > 0 {
			ref = attention.ReferenceChunked(flat(q), flat(k), flat(v), m.QHeads, m.KVHeads, m.HeadDim, pos, scale, c)
		}
		out := make([][]float32, len(q))
		w := m.QHeads * m.HeadDim
		for i := range out {
			out[i] = make([]float32, w)
			for j := range w {
				out[i][j] = float32(ref[i*w+j])
			}
		}
		return out
	})
}
