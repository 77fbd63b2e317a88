package paged

import (
	"fmt"

	"github.com/pagedkv/pagedkv/block"
	"github.com/pagedkv/pagedkv/blockpool"
)

// SwapOut moves a sequence's computed KV to the host tier (preemption by swapping, as
// vLLM V0 did for sequence groups): it appends a DeviceToHost copy (device Src, host
// Dst) per block holding computed tokens to copies for the engine to perform, then
// releases the device blocks (tail first; cached ones stay hit-able). Blocks beyond
// the computed tokens are released without copying and the outstanding reservation
// is dropped. A block the sequence shares with others is copied too: after SwapIn the
// sequence has private blocks. Free host blocks that cache prefixes
// (Config.HostCache) are evicted to make room; queued write-through copies come
// first in the list.
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
	if n := m.blocksFor(s.computed); n > m.host.NumFree() {
		return copies, fmt.Errorf("sequence %d to host: %w", id, errf(ErrNoSpace, "need %d blocks, %d free", n, m.host.NumFree()))
	}
	m.begin(copies, nil)
	m.moveTable(s, m.pool, m.host, m.blocksFor(s.computed), DeviceToHost, m.retention(s))
	copies = m.end()
	s.swapped, s.reserved, s.numCached = true, s.computed, 0
	m.stats.swapOuts++
	return copies, nil
}

// SwapIn brings a swapped-out sequence back: it allocates device blocks, appends a
// HostToDevice copy (host Src, device Dst) per block to copies, releases the host
// blocks, and registers the sequence's full computed blocks in the prefix cache
// again. With a host prefix cache the list may also hold the offloads
// (DeviceToHost) of cached blocks the allocation evicted, ahead of the copies into
// them. All or nothing: ErrNoSpace when the device lacks free blocks.
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
	if n := len(s.table); n > m.pool.NumFree() {
		return copies, fmt.Errorf("sequence %d to device: %w", id, errf(ErrNoSpace, "need %d blocks, %d free", n, m.pool.NumFree()))
	}
	m.begin(copies, nil)
	m.moveTable(s, m.host, m.pool, len(s.table), HostToDevice, m.host.DefaultRetention())
	copies = m.end()
	s.swapped = false
	m.markComputed(s, 0) // re-register the full blocks
	m.stats.swapIns++
	return copies, nil
}

// moveTable moves the first n blocks of s's table from pool src to pool dst: it
// allocates n blocks in dst (the caller checked they are free), appends a copy in
// direction dir per block to m.out, releases the whole table in src (tail first,
// asking r) and points the table at the new blocks.
func (m *Manager) moveTable(s *sequence, src, dst *blockpool.Pool, n int, dir block.Dir, r blockpool.Retention) {
	moved, err := dst.Allocate(m.hitBuf[:0], n)
	if err != nil {
		panic("paged: planned allocation failed: " + err.Error())
	}
	for j, b := range moved {
		m.out = append(m.out, BlockCopy{Src: s.table[j], Dst: b, Dir: dir})
	}
	if err := src.ReleaseTableWith(s.table, r); err != nil {
		panic("paged: releasing a live table failed: " + err.Error())
	}
	s.table = append(s.table[:0], moved...)
	m.hitBuf = moved[:0]
}

// CanSwapIn is vLLM's can_swap_in for a swapped-out sequence: AdmitNow if SwapIn
// plus room for its not yet computed tokens and lookahead slots fits while keeping
// WatermarkBlocks free, AdmitLater if it would after others free blocks, AdmitNever
// if even an empty device could not hold it above the watermark. It changes
// nothing. A sequence on the device gives ErrInvalidArgument, a lookahead outside
// [0, MaxSeqLen] ErrInvalidArgument.
func (m *Manager) CanSwapIn(id SeqID, lookahead int) (Admission, error) {
	if err := checkLookahead(lookahead); err != nil {
		return AdmitNever, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return AdmitNever, err
	}
	if !s.swapped {
		return AdmitNever, errf(ErrInvalidArgument, "sequence %d is not swapped out", id)
	}
	return m.admit(max(len(s.table), m.blocksFor(len(s.tokens)+lookahead))), nil
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
