package sim

import (
	"fmt"

	"github.com/pagedkv/pagedkv/paged"
)

// Models with sliding-window layers (hardware.Model.Window) or chunked-local layers
// (hardware.Model.Chunk, Llama 4): window freeing.
//
// By default the paged policy serves such a model the way vLLM's hybrid allocator
// does: its layers are split into equal-size KV-cache groups
// (hardware.Model.KVLayerGroups), each a paged.KVGroup with one block table per
// sequence, all drawing from one pool whose blocks hold a group's worth of layers
// (hardware.Deployment.GroupedNumBlocks), and a window group releases the blocks
// that left its window (a chunked group, paged.ChunkedLocal, those of its finished
// chunks). Config.DisableWindowFreeing serves it instead as if every
// layer attended fully (vLLM's --disable-hybrid-kv-cache-manager): one table, a
// block holding every layer, nothing released. The attention itself (and so the
// time model, which charges every layer the whole context in both cases) is the
// same; only the memory differs, and with it the batch and the throughput.

// pagedGroups returns the KV-cache groups and pool size (blocks of bs tokens) the
// paged policy serves the deployment with: nil groups and the plain block count
// when the model has no window or window freeing is off.
func pagedGroups(c *Config) ([]paged.KVGroup, int) {
	hw := &c.Hardware
	if !hw.Model.HasLocalAttention() || c.DisableWindowFreeing {
		return nil, hw.KVSlots() / c.BlockSize
	}
	layers, _ := hw.Model.KVLayerGroups()
	perLayer := hw.KVBytesPerTokenPerLayerPerGPU()
	groups := make([]paged.KVGroup, len(layers))
	for i, l := range layers {
		groups[i] = paged.KVGroup{BytesPerToken: int64(float64(l.Layers) * perLayer)}
		switch {
		case l.Window > 0:
			groups[i].Kind, groups[i].Window = paged.SlidingWindow, l.Window
		case l.Chunk > 0:
			groups[i].Kind, groups[i].Window = paged.ChunkedLocal, l.Chunk
		}
	}
	return groups, hw.GroupedNumBlocks(c.BlockSize)
}

// pagedPolicyConfig is the paged policy's configuration for c.
func pagedPolicyConfig(c *Config) pagedConfig {
	groups, _ := pagedGroups(c)
	pc := pagedConfig{
		NumBlocks: c.kvBlocks(), HostBlocks: c.hostBlocks() + c.hostTierBlocks(), SwapBlocks: c.hostBlocks(), BlockSize: c.BlockSize,
		DisablePrefixCaching: c.DisablePrefixCaching, Watermark: c.Watermark, ReleasePolicy: c.ReleasePolicy,
		Seed: c.Seed, Groups: groups, Events: c.events, GroupedEviction: c.GroupedEviction,
	}
	if c.hostTierBlocks() > 0 { // a host prefix-cache tier (host_cache.go)
		pc.HostCache = c.hostCacheOptions()
		pc.AsyncOffload = c.AsyncOffload
	}
	return pc
}

// validateWindow refuses what window freeing does not combine with: swapping (the
// manager has no host tier with KV-cache groups).
func (c *Config) validateWindow() error {
	if c.Policy == PolicyPaged && c.Hardware.Model.HasLocalAttention() && !c.DisableWindowFreeing && c.SwapSpaceGiB > 0 {
		return fmt.Errorf("%w: SwapSpaceGiB with window freeing (model %s has sliding-window or chunked layers); set DisableWindowFreeing",
			ErrInvalid, c.Hardware.Model.Name)
	}
	return nil
}

// numBlocks is the pool size (Result.NumBlocks).
func (p *pagedPolicy) numBlocks() int { return p.m.Stats().NumBlocks }

// sampleGroups is sample with KV-cache groups, in O(sequences). Every group's table
// has the same length and the same sharing as group 0's (paged.SeqState.Released):
// each sequence has a frontier block and the same trailing private blocks in every
// group, so those count G times, and the full blocks — every group's, windows
// included — are the used blocks less them. A token therefore counts once per group
// that still holds it: that is memory. Capacity is the pool's block slots.
func (p *pagedPolicy) sampleGroups(running []*reqState, s *memSample) {
	bd := &p.bd
	p.collect(running)
	var err error
	if bd.states, err = p.m.SeqStates(bd.ids, bd.states[:0]); err != nil {
		panic(err)
	}
	st := p.m.Stats()
	s.capacity = st.NumBlocks * p.bs
	s.usedBlocks = st.UsedBlocks
	bd.n++
	bs, g, frontiers, trailing := p.bs, p.groups, 0, 0
	for i, q := range bd.states {
		final := bd.owner[i].final
		s.logical += g*q.Blocks - q.Released
		if q.Frontier < 0 {
			continue
		}
		j := q.Computed / bs
		if bd.stamp[q.Frontier] != bd.n {
			bd.stamp[q.Frontier] = bd.n
			frontiers++
			tok := q.Computed - j*bs
			f := max(tok, min(bs, max(0, final-j*bs)))
			s.token += g * tok
			s.reserved += g * (f - tok)
			s.internal += g * (bs - f)
		}
		if k := q.Blocks - j - 1; k > 0 {
			trailing += k
			r := min(q.Blocks*bs, final) - min((j+1)*bs, final)
			s.reserved += g * max(0, r)
			s.internal += g * (k*bs - max(0, r))
		}
	}
	full := st.UsedBlocks - g*(frontiers+trailing)
	s.token += full * bs
	s.physical += st.UsedBlocks
}
