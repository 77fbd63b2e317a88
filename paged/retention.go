package paged

import (
	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// Retention priorities, the clock and pins.
//
// Mechanism and policy stay apart: the block pool keeps one free list per priority
// level (evicting the lowest level first, LRU within a level), the max rule and the
// decay (blockpool.Retention); the release policy (Config.ReleasePolicy) still
// decides head or tail; the manager maps a sequence's SeqOptions to the level and
// expiry it asks when it releases its blocks, and pins blocks by holding a reference.

// retention is the blockpool retention s asks when it releases its blocks now.
func (m *Manager) retention(s *sequence) blockpool.Retention {
	r := blockpool.Retention{Level: s.priority - MinPriority}
	if d := s.priorityDur; d > 0 {
		r.Expiry = MaxTime
		if now := m.pool.Now(); d < MaxTime-now {
			r.Expiry = now + d
		}
	}
	return r
}

// SetClock advances the logical clock that SeqOptions.PriorityDuration counts in (any
// monotonic unit: steps, milliseconds) to now, 0 ≤ now ≤ MaxTime, and lets the
// priorities that expired by then decay: those free blocks join the tail of priority
// 0. Moving the clock backwards gives ErrInvalidArgument and changes nothing. Tests
// and simulators drive it by hand; a server may pass wall-clock milliseconds.
func (m *Manager) SetClock(now int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.pool.SetTime(now); err != nil {
		return errf(ErrInvalidArgument, "clock %d: %v", now, err)
	}
	return nil
}

// Clock returns the logical clock (SetClock).
func (m *Manager) Clock() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pool.Now()
}

// PinID is a handle to a pin, returned by Pin. Handles are never reused; the zero
// PinID is never valid.
type PinID uint64

// pinSet holds the live pins. Invariants: each live pin holds one reference on each
// of its blocks, which stay cached with the identities recorded (a pinned block is
// never evicted); count[b] is the number of pins holding device block b, and
// distinct the number of blocks with count > 0, at most maxBlocks.
type pinSet struct {
	pins      []pin
	freeSlots []int
	live      int
	count     []int32 // per device block, allocated by the first Pin
	distinct  int
}

type pin struct {
	live   bool
	gen    uint32
	blocks []blockpool.BlockID
	idents []uint64
}

func (p *pinSet) find(id PinID) *pin {
	idx := int(uint32(id)) - 1
	if idx < 0 || idx >= len(p.pins) || !p.pins[idx].live || p.pins[idx].gen != uint32(id>>32) {
		return nil
	}
	return &p.pins[idx]
}

// maxPinned is the most device blocks pins may hold.
func (m *Manager) maxPinned() int { return int(m.cfg.MaxPinnedFraction * float64(m.cfg.NumBlocks)) }

// Pin keeps the device-cached prefix of prompt (hashed with opts, like LookupPrompt:
// whole blocks, the last one included when the prompt fills it) from being evicted
// until Unpin: the pin holds a reference on each block, so the blocks count as used
// (UsedBlocks, admission) and ResetPrefixCache is refused meanwhile. It returns the
// pin's handle and the number of tokens pinned.
//
// Only device blocks are pinned: host-tier blocks are not onloaded (admit a request
// with the prompt first). Pins may together hold at most MaxPinnedFraction of the
// device blocks (a block held by several pins counts once): beyond that Pin returns
// ErrPinLimit. An empty or too long prompt or bad opts give ErrInvalidArgument, a
// prompt whose first block is not cached on the device ErrNotCached, a Manager with
// KV-cache groups (Config.Groups) ErrInvalidConfig; nothing changes then.
func (m *Manager) Pin(prompt []int32, opts SeqOptions) (PinID, int, error) {
	if len(prompt) == 0 || len(prompt) > MaxSeqLen {
		return 0, 0, errf(ErrInvalidArgument, "pin a prompt of %d tokens, not in [1, %d]", len(prompt), MaxSeqLen)
	}
	if err := opts.validate(len(prompt)); err != nil {
		return 0, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hybrid {
		return 0, 0, errf(ErrInvalidConfig, "Pin with KV cache groups (Config.Groups) is not supported")
	}
	if !m.caching() {
		return 0, 0, errf(ErrNotCached, "prefix caching is disabled")
	}
	n := min(len(prompt)/m.bs, m.cfg.NumBlocks)
	ex := opts.extras()
	m.tmpChain.SetExtras(m.scheme, ex)
	m.tmpChain.Extend(prompt[:n*m.bs])
	blocks := m.hitBuf[:0]
	var parent uint64
	for i := range n {
		id, ok := m.pool.Lookup(blockpool.Key{Hash: uint64(m.tmpChain.Hash(i)), Parent: parent,
			Tokens: prompt[i*m.bs : (i+1)*m.bs], Extra: m.tmpChain.ExtraFingerprint(i)})
		if !ok {
			break
		}
		blocks = append(blocks, id)
		parent = m.pool.Identity(id)
	}
	m.tmpChain.SetExtras(m.scheme, prefix.Extras{}) // drop references to caller data
	m.hitBuf = blocks
	if len(blocks) == 0 {
		return 0, 0, errf(ErrNotCached, "no block of the %d-token prompt is cached on the device", len(prompt))
	}
	ps := &m.pins
	if ps.count == nil {
		ps.count = make([]int32, m.cfg.NumBlocks)
	}
	added := 0
	for _, b := range blocks {
		if ps.count[b] == 0 {
			added++
		}
	}
	if ps.distinct+added > m.maxPinned() {
		return 0, 0, errf(ErrPinLimit, "pinning %d more blocks (%d pinned) exceeds %d", added, ps.distinct, m.maxPinned())
	}
	var idx int
	if k := len(ps.freeSlots); k > 0 {
		idx = ps.freeSlots[k-1]
		ps.freeSlots = ps.freeSlots[:k-1]
	} else {
		ps.pins = append(ps.pins, pin{})
		idx = len(ps.pins) - 1
	}
	p := &ps.pins[idx]
	p.live = true
	p.blocks = append(p.blocks[:0], blocks...)
	p.idents = p.idents[:0]
	for _, b := range blocks {
		_ = m.pool.Retain(b) // cannot fail: a cached block in range
		ps.count[b]++
		p.idents = append(p.idents, m.pool.Identity(b))
	}
	ps.distinct += added
	ps.live++
	return PinID(uint64(p.gen)<<32 | uint64(idx+1)), len(blocks) * m.bs, nil
}

// Unpin releases a pin's blocks (tail first; they keep their retention priority)
// and invalidates id. An id that is not live gives ErrUnknownPin.
func (m *Manager) Unpin(id PinID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := &m.pins
	p := ps.find(id)
	if p == nil {
		return errf(ErrUnknownPin, "%d", id)
	}
	if err := m.pool.ReleaseTable(p.blocks); err != nil {
		panic("paged: releasing pinned blocks failed: " + err.Error())
	}
	for _, b := range p.blocks {
		if ps.count[b]--; ps.count[b] == 0 {
			ps.distinct--
		}
	}
	p.live = false
	p.gen++
	ps.freeSlots = append(ps.freeSlots, int(uint32(id))-1)
	ps.live--
	return nil
}
