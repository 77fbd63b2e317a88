package paged

import "github.com/pagedkv/pagedkv/block"

// BlockInfo reports device block id's reference count and whether it is cached
// (carries a hash that later prompts can hit). An out-of-range id reports (0, false).
func (m *Manager) BlockInfo(id block.ID) (refs int, cached bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, cached = m.pool.Hash(id)
	return m.pool.RefCount(id), cached
}

// FreeQueue appends the device free queue to dst, head first: the order in which
// free blocks will be reused, and so the order in which cached free blocks will be
// evicted.
func (m *Manager) FreeQueue(dst []block.ID) []block.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pool.FreeOrder(dst)
}
