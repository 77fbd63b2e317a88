package paged

import (
	"github.com/pagedkv/pagedkv/block"
	"github.com/pagedkv/pagedkv/prefix"
)

// CachedBlock is one block of the prefix cache: its tier, its id in that tier and
// its hash (the id KV events carry).
type CachedBlock struct {
	Medium Medium
	ID     block.ID
	Hash   prefix.Hash
	// Group is the KV-cache group the block is cached in (0 without groups).
	Group int
}

// CachedBlocks appends every cached block, device tier first and then the host
// tier, each in id order, to dst under one lock: the Manager's own view of what a
// subscriber to its events should hold (vLLM's form counts each block, so equal
// hashes appear once per block). It is O(NumBlocks + HostBlocks); meant for
// checks and debugging, not for every step.
func (m *Manager) CachedBlocks(dst []CachedBlock) []CachedBlock {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range block.ID(m.pool.NumBlocks()) {
		if k, _, ok := m.pool.CachedKey(id); ok {
			dst = append(dst, CachedBlock{Medium: MediumGPU, ID: id, Hash: prefix.Hash(k.Hash), Group: int(k.Group)})
		}
	}
	if m.host != nil {
		for id := range block.ID(m.host.NumBlocks()) {
			if h, ok := m.host.Hash(id); ok {
				dst = append(dst, CachedBlock{Medium: MediumCPU, ID: id, Hash: prefix.Hash(h)})
			}
		}
	}
	return dst
}
