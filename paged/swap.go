package paged

import (
	"fmt"

	"github.com/pagedkv/pagedkv/blockpool"
)

// SwapOut moves a sequence's computed KV to the host tier (preemption by swapping, as
// vLLM V0 did for sequence groups): it appends a (device Src, host Dst) copy per
// block holding computed tokens to copies for the engine to perform, then releases
// the device blocks (tail first; cached ones stay hit-able). Blocks beyond the
// computed tokens are released without copying and the outstanding reservation is
// dropped. A block the sequence shares with others is copied too: after SwapIn the
// sequence has private blocks.
//
// All or nothing: without a host tier it returns ErrNoHostTier, and with too few free
// host blocks ErrNoSpace, changing nothing.
func (m *Manager) SwapOut(id SeqID, copies []BlockCopy) ([]BlockCopy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.onDevice(id)
	if err != nil {
		return copies, err
	}
	if m.host == nil {
		return copies, errf(ErrNoHostTier, "SwapOut of sequence %d", id)
	}
	copies, err = m.moveTable(s, m.pool, m.host, m.blocksFor(s.computed), copies)
	if err != nil {
		return copies, fmt.Errorf("sequence %d to host: %w", id, err)
	}
	s.swapped, s.reserved, s.numCached = true, s.computed, 0
	m.stats.swapOuts++
	return copies, nil
}

// SwapIn brings a swapped-out sequence back: it allocates device blocks, appends a
// (host Src, device Dst) copy per block to copies, releases the host blocks, and
// registers the sequence's full computed blocks in the prefix cache again. All or
// nothing: ErrNoSpace when the device lacks free blocks.
func (m *Manager) SwapIn(id SeqID, copies []BlockCopy) ([]BlockCopy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return copies, err
	}
	if !s.swapped {
		return copies, errf(ErrInvalidArgument, "sequence %d is not swapped out", id)
	}
	copies, err = m.moveTable(s, m.host, m.pool, len(s.table), copies)
	if err != nil {
		return copies, fmt.Errorf("sequence %d to device: %w", id, err)
	}
	s.swapped = false
	m.markComputed(s, 0) // re-register the full blocks
	m.stats.swapIns++
	return copies, nil
}

// moveTable moves the first n blocks of s's table from pool src to pool dst: it
// allocates n blocks in dst (ErrNoSpace, changing nothing, if dst lacks them), appends
// a copy per block, releases the whole table in src (tail first) and points the table
// at the new blocks.
func (m *Manager) moveTable(s *sequence, src, dst *blockpool.Pool, n int, copies []BlockCopy) ([]BlockCopy, error) {
	if n > dst.NumFree() {
		return copies, errf(ErrNoSpace, "need %d blocks, %d free", n, dst.NumFree())
	}
	moved, err := dst.Allocate(m.hitBuf[:0], n)
	if err != nil {
		panic("paged: planned allocation failed: " + err.Error())
	}
	for j, b := range moved {
		copies = append(copies, BlockCopy{Src: s.table[j], Dst: b})
	}
	if err := src.ReleaseTable(s.table); err != nil {
		panic("paged: releasing a live table failed: " + err.Error())
	}
	s.table = append(s.table[:0], moved...)
	m.hitBuf = moved[:0]
	return copies, nil
}

// SwapInBlocks returns how many free device blocks SwapIn of the sequence needs (0 for
// a sequence on the device).
func (m *Manager) SwapInBlocks(id SeqID) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil || !s.swapped {
		return 0, err
	}
	return len(s.table), nil
}
