package hardware

import (
	"fmt"
	"math"
	"slices"
)

// Model is a decoder-only transformer's shape, enough to size its KV cache, weights
// and per-token compute.
type Model struct {
	Name    string
	Layers  int
	Heads   int // attention (query) heads; 0 means Hidden / HeadDim
	KVHeads int // key/value heads (= Heads without GQA)
	HeadDim int
	Hidden  int     // model width (attention FLOPs)
	Params  float64 // parameter count (weights, and linear-layer FLOPs unless ActiveParams)
	// ActiveParams, for a mixture of experts, is the parameters one token runs
	// through (the linear-layer FLOPs); 0 means Params (a dense model). At most Params.
	ActiveParams float64
	// MaxSeqLen is the longest sequence (prompt + output) the model serves: its
	// context length, and the Orca-Max reservation.
	MaxSeqLen int
	// Window is the sliding window of the model's sliding-window layers, in tokens
	// (a layer's query at p attends to (p−Window, p]); 0: none.
	Window int
	// WindowLayers is how many of the Layers use the sliding window: 0 (none) when
	// Window is 0, else 1..Layers (all of them for Mistral 7B v0.1, half for Gemma 2
	// and gpt-oss). See KVLayerGroups.
	WindowLayers int
	// Chunk is the attention chunk of the model's chunked-local layers, in tokens
	// (Llama 4's local attention: a layer's query at p attends to [⌊p/Chunk⌋·Chunk,
	// p]); 0: none. A model has a window or a chunk, not both.
	Chunk int
	// ChunkLayers is how many of the Layers use chunked local attention: 0 when
	// Chunk is 0, else 1..Layers−1 (three of every four for Llama 4; the others
	// attend fully, which paged.ChunkedLocal groups need). See KVLayerGroups.
	ChunkLayers int
}

// LocalLayers returns how many layers attend locally (a sliding window or a
// chunk): WindowLayers + ChunkLayers, of which at most one is non-zero.
func (m Model) LocalLayers() int { return m.WindowLayers + m.ChunkLayers }

// HasLocalAttention reports whether some layers attend only to a window or a chunk,
// so that KV-cache groups can release the blocks those layers no longer read.
func (m Model) HasLocalAttention() bool {
	return m.Window > 0 && m.WindowLayers > 0 || m.Chunk > 0 && m.ChunkLayers > 0
}

// MaxModelDim bounds every integer dimension of a Model (layers, heads, head dim,
// width) and MaxContext its context length, so that sizes computed from them cannot
// overflow.
const (
	MaxModelDim = 1 << 20
	MaxContext  = 1 << 24
)

// models are the built-in shapes (from the models' published configs).
var models = map[string]Model{
	"opt-13b":     {Name: "OPT-13B", Layers: 40, Heads: 40, KVHeads: 40, HeadDim: 128, Hidden: 5120, Params: 12.85e9, MaxSeqLen: 2048},
	"llama-2-7b":  {Name: "Llama-2-7B", Layers: 32, Heads: 32, KVHeads: 32, HeadDim: 128, Hidden: 4096, Params: 6.74e9, MaxSeqLen: 4096},
	"llama-2-13b": {Name: "Llama-2-13B", Layers: 40, Heads: 40, KVHeads: 40, HeadDim: 128, Hidden: 5120, Params: 13.0e9, MaxSeqLen: 4096},
	"llama-2-70b": {Name: "Llama-2-70B", Layers: 80, Heads: 64, KVHeads: 8, HeadDim: 128, Hidden: 8192, Params: 69.0e9, MaxSeqLen: 4096},
	"llama-3-8b":  {Name: "Llama-3-8B", Layers: 32, Heads: 32, KVHeads: 8, HeadDim: 128, Hidden: 4096, Params: 8.03e9, MaxSeqLen: 8192},
	"llama-3-70b": {Name: "Llama-3-70B", Layers: 80, Heads: 64, KVHeads: 8, HeadDim: 128, Hidden: 8192, Params: 70.6e9, MaxSeqLen: 8192},
	// Llama 3.1: the same shapes with a 128K context (what the Mooncake traces need).
	"llama-3.1-8b":  {Name: "Llama-3.1-8B", Layers: 32, Heads: 32, KVHeads: 8, HeadDim: 128, Hidden: 4096, Params: 8.03e9, MaxSeqLen: 131072},
	"llama-3.1-70b": {Name: "Llama-3.1-70B", Layers: 80, Heads: 64, KVHeads: 8, HeadDim: 128, Hidden: 8192, Params: 70.6e9, MaxSeqLen: 131072},
	"mistral-7b":    {Name: "Mistral-7B", Layers: 32, Heads: 32, KVHeads: 8, HeadDim: 128, Hidden: 4096, Params: 7.24e9, MaxSeqLen: 32768},
	// Sliding-window models (see KVLayerGroups). Mistral 7B v0.1 windows every layer
	// (v0.2 and later dropped the window: "mistral-7b"); Gemma 2 alternates a
	// 4,096-token window with full attention over an 8,192-token context; gpt-oss-20b
	// alternates a 128-token window with full attention (a mixture of experts: 20.9 B
	// parameters, 3.6 B active per token; its weights are stored in 16 bits here,
	// not MXFP4).
	"mistral-7b-v0.1": {Name: "Mistral-7B-v0.1", Layers: 32, Heads: 32, KVHeads: 8, HeadDim: 128, Hidden: 4096, Params: 7.24e9,
		MaxSeqLen: 32768, Window: 4096, WindowLayers: 32},
	"gemma-2-9b": {Name: "Gemma-2-9B", Layers: 42, Heads: 16, KVHeads: 8, HeadDim: 256, Hidden: 3584, Params: 9.24e9,
		MaxSeqLen: 8192, Window: 4096, WindowLayers: 21},
	"gemma-2-27b": {Name: "Gemma-2-27B", Layers: 46, Heads: 32, KVHeads: 16, HeadDim: 128, Hidden: 4608, Params: 27.2e9,
		MaxSeqLen: 8192, Window: 4096, WindowLayers: 23},
	"gpt-oss-20b": {Name: "gpt-oss-20b", Layers: 24, Heads: 64, KVHeads: 8, HeadDim: 64, Hidden: 2880, Params: 20.9e9,
		ActiveParams: 3.61e9, MaxSeqLen: 131072, Window: 128, WindowLayers: 12},
	// Chunked-local models. Llama 4 Scout (17B active, 16 experts, 109 B parameters
	// in all) attends within chunks of 8,192 tokens on three of every four layers
	// (attention_chunk_size 8192; every fourth layer is a global NoPE layer: 36
	// chunked, 12 full). Its card advertises a 10M context; MaxSeqLen here is a
	// practical 1M (1,048,576).
	"llama-4-scout-17b-16e": {Name: "Llama-4-Scout-17B-16E", Layers: 48, Heads: 40, KVHeads: 8, HeadDim: 128, Hidden: 5120,
		Params: 109e9, ActiveParams: 17e9, MaxSeqLen: 1 << 20, Chunk: 8192, ChunkLayers: 36},
}

// LookupModel returns the built-in model with that key (see ModelNames), or
// ErrUnknown.
func LookupModel(name string) (Model, error) {
	if m, ok := models[name]; ok {
		return m, nil
	}
	return Model{}, fmt.Errorf("%w: model %q (want one of %v)", ErrUnknown, name, ModelNames())
}

// ModelNames returns the built-in models' keys, sorted.
func ModelNames() []string { return sortedKeys(models) }

// KVBytesPerToken returns 2 (K and V) × layers × KV heads × head dim × bytesPerElem:
// one token's KV over the whole model (all tensor-parallel GPUs together).
func (m Model) KVBytesPerToken(bytesPerElem float64) float64 {
	return 2 * float64(m.Layers*m.KVHeads*m.HeadDim) * bytesPerElem
}

// FLOPParams returns the parameters one token's linear layers run through:
// ActiveParams, or Params for a dense model.
func (m Model) FLOPParams() float64 {
	if m.ActiveParams > 0 {
		return m.ActiveParams
	}
	return m.Params
}

// AttentionHeads returns Heads, or Hidden / HeadDim when Heads is 0.
func (m Model) AttentionHeads() int {
	if m.Heads > 0 || m.HeadDim <= 0 {
		return m.Heads
	}
	return m.Hidden / m.HeadDim
}

// Validate checks every dimension is in range: each integer in [1, MaxModelDim],
// KVHeads ≤ AttentionHeads and dividing it, Params positive and finite, MaxSeqLen in
// [1, MaxContext], and the window: both Window and WindowLayers 0, or Window in [2,
// MaxContext] and WindowLayers in [1, Layers]; the chunk likewise: both Chunk and
// ChunkLayers 0, or Chunk in [1, MaxContext] and ChunkLayers in [1, Layers−1]; not
// a window and a chunk together.
func (m Model) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: model %q: %s", ErrInvalid, m.Name, fmt.Sprintf(format, a...))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Layers", m.Layers}, {"KVHeads", m.KVHeads}, {"HeadDim", m.HeadDim}, {"Hidden", m.Hidden}} {
		if f.v < 1 || f.v > MaxModelDim {
			return bad("%s %d not in [1, %d]", f.name, f.v, MaxModelDim)
		}
	}
	h := m.AttentionHeads()
	switch {
	case m.Heads < 0 || h < 1 || h > MaxModelDim:
		return bad("attention heads %d not in [1, %d]", h, MaxModelDim)
	case m.KVHeads > h || h%m.KVHeads != 0:
		return bad("%d KV heads do not divide %d attention heads", m.KVHeads, h)
	case !(m.Params > 0) || math.IsInf(m.Params, 0):
		return bad("Params %v must be positive and finite", m.Params)
	case !(m.ActiveParams >= 0 && m.ActiveParams <= m.Params):
		return bad("ActiveParams %v not in [0, Params]", m.ActiveParams)
	case m.MaxSeqLen < 1 || m.MaxSeqLen > MaxContext:
		return bad("MaxSeqLen %d not in [1, %d]", m.MaxSeqLen, MaxContext)
	case (m.Window == 0) != (m.WindowLayers == 0):
		return bad("Window %d with %d WindowLayers: both or neither", m.Window, m.WindowLayers)
	case m.Window != 0 && (m.Window < 2 || m.Window > MaxContext || m.WindowLayers < 0 || m.WindowLayers > m.Layers):
		return bad("Window %d not in [2, %d] or WindowLayers %d not in [1, %d]", m.Window, MaxContext, m.WindowLayers, m.Layers)
	case (m.Chunk == 0) != (m.ChunkLayers == 0):
		return bad("Chunk %d with %d ChunkLayers: both or neither", m.Chunk, m.ChunkLayers)
	case m.Chunk != 0 && (m.Chunk < 1 || m.Chunk > MaxContext || m.ChunkLayers < 1 || m.ChunkLayers >= m.Layers):
		return bad("Chunk %d not in [1, %d] or ChunkLayers %d not in [1, %d]", m.Chunk, MaxContext, m.ChunkLayers, m.Layers-1)
	case m.Window != 0 && m.Chunk != 0:
		return bad("Window %d and Chunk %d: a model has one or the other", m.Window, m.Chunk)
	}
	return nil
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CheckTP checks that the model can be split over tp GPUs: tp must divide the
// attention heads, and divide the KV heads or be a multiple of them (KV heads are
// then replicated), as in vLLM. This bounds tp by the head count.
func (m Model) CheckTP(tp int) error {
	heads, kv := m.AttentionHeads(), m.KVHeads
	switch {
	case tp < 1 || heads < 1 || heads%tp != 0:
		return fmt.Errorf("%w: tensor-parallel degree %d must divide %s's %d attention heads", ErrInvalid, tp, m.Name, heads)
	case kv < 1 || kv%tp != 0 && tp%kv != 0:
		return fmt.Errorf("%w: tensor-parallel degree %d must divide %s's %d KV heads or be a multiple of them", ErrInvalid, tp, m.Name, kv)
	}
	return nil
}
