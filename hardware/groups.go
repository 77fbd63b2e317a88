package hardware

// KV-cache groups of a model with sliding-window or chunked-local layers, as vLLM's hybrid allocator
// forms them (kv_cache_utils: one block pool, one block table per group, every
// group's page the same size).

// LayerGroup is one KV-cache group: layers of one attention kind that share a block
// table.
type LayerGroup struct {
	// Window is the group's sliding window; 0 for full attention.
	Window int
	// Layers is how many of the model's layers the group holds; the group is sized
	// for KVLayerGroups' group size, the difference being padding.
	Layers int
	// Chunk is the group's attention chunk (chunked local attention); 0 otherwise.
	// At most one of Window and Chunk is set.
	Chunk int
}

// KVLayerGroups splits the model's layers into KV-cache groups of equal size, as
// vLLM does for models whose layer kinds differ: the group size is the fewest
// layers of one kind, or the most when that is less than 1.5 × the fewest (so 12
// full and 13 window layers make 13 + 13, not 12 + 12 + 12 + 1); each kind's layers
// fill groups of that size, the last one padded. Gemma 2 9B (21 + 21) gives two
// groups of 21, Mistral 7B v0.1 (32 window layers) one group of 32, a model without
// a window one full-attention group of all its layers. Chunked-local layers group
// the same way (Llama 4 Scout, 12 full and 36 chunked: four groups of 12, three of
// them chunked). Every group's block then holds size layers' KV, so one pool serves
// them all with equal pages.
func (m Model) KVLayerGroups() (groups []LayerGroup, size int) {
	if !m.HasLocalAttention() {
		return []LayerGroup{{Layers: m.Layers}}, m.Layers
	}
	full, win := m.Layers-m.LocalLayers(), m.LocalLayers()
	local := LayerGroup{Window: m.Window, Layers: win}
	if m.Chunk > 0 {
		local = LayerGroup{Chunk: m.Chunk, Layers: win}
	}
	if full == 0 {
		return []LayerGroup{local}, win
	}
	size = min(full, win)
	if most := max(full, win); float64(most) < 1.5*float64(size) {
		size = most
	}
	for _, kind := range []LayerGroup{{Layers: full}, local} {
		for n := kind.Layers; n > 0; n -= size {
			groups = append(groups, LayerGroup{Window: kind.Window, Chunk: kind.Chunk, Layers: min(n, size)})
		}
	}
	return groups, size
}

// KVBytesPerTokenPerLayerPerGPU is one token's KV in one layer on one GPU.
func (d Deployment) KVBytesPerTokenPerLayerPerGPU() float64 {
	return 2 * float64(d.kvHeadsPerGPU()*d.Model.HeadDim) * d.KVBytesPerElem
}

// GroupedNumBlocks returns the number of KV blocks of blockSize tokens when the
// model's KV-cache groups share one pool (KVLayerGroups): each block holds the
// group size's layers, so the budget buys KVBudgetBytes / (blockSize × size ×
// per-layer bytes) of them. For a model without a window it equals NumBlocks.
func (d Deployment) GroupedNumBlocks(blockSize int) int {
	_, size := d.Model.KVLayerGroups()
	if blockSize <= 0 || size <= 0 {
		return 0
	}
	return int(d.KVBudgetBytes() / (float64(blockSize*size) * d.KVBytesPerTokenPerLayerPerGPU()))
}
