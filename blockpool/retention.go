package blockpool

import (
	"container/heap"
	"fmt"
)

// Retention is what a releaser asks for the cached blocks it releases: keep them at
// Level (0..Levels-1) until the pool's clock reaches Expiry (0: never; see SetTime),
// then at DefaultLevel. An ask at DefaultLevel never expires. Free blocks of a lower level are evicted before any of a
// higher level, and within a level least recently released first.
//
// The max rule: a cached block keeps the highest level any releaser asked for that
// has not expired, with that request's expiry (the later one, or never, when two ask
// for the same level). A block's level survives its holders (a hit and a release by a
// default-level request leave a high level in place) and is forgotten when the block
// is evicted or uncached. Uncached blocks carry no level: the release policy sends
// them to the head zone (evicted before every level) or to the tail of DefaultLevel.
type Retention struct {
	Level  int
	Expiry int64
}

// DefaultRetention returns the retention of a releaser that asks for nothing.
func (p *Pool) DefaultRetention() Retention { return Retention{Level: p.defLevel} }

func (p *Pool) checkRetention(r Retention) error {
	if r.Level < 0 || r.Level >= p.levels || r.Expiry < 0 || r.Expiry > MaxTime {
		return fmt.Errorf("%w: level %d not in [0, %d) or expiry %d not in [0, %d]", ErrInvalidRetention, r.Level, p.levels, r.Expiry, int64(MaxTime))
	}
	return nil
}

// levelNone marks a block nobody asked a retention for (and every uncached block):
// it is placed at DefaultLevel.
const levelNone = 0xff

// retain records a release asking r for cached block id (the max rule): the block
// keeps the highest unexpired level asked for it, with that ask's expiry (the later
// one, or never, when two ask for the same level). An ask that already expired asks
// nothing, and an ask at DefaultLevel never expires. The common case — default asks
// on blocks kept at the default level or none — reads no expiry.
func (p *Pool) retain(id BlockID, r Retention) {
	b := &p.blocks[id]
	cur := int(b.level)
	if r.Level == p.defLevel {
		switch {
		case cur == levelNone: // no expiry to clear (see Pool.exp)
			b.level = uint8(r.Level)
		case cur < p.defLevel:
			b.level, p.exp[id] = uint8(r.Level), 0
		case cur > p.defLevel && p.exp[id] != 0 && p.exp[id] <= p.now: // the kept level expired
			b.level, p.exp[id] = uint8(r.Level), 0
		}
		return
	}
	if r.Expiry != 0 && r.Expiry <= p.now {
		return
	}
	ce := p.exp[id]
	if cur != levelNone && ce != 0 && ce <= p.now {
		cur = levelNone
	}
	switch {
	case cur == levelNone || r.Level > cur:
		b.level, p.exp[id] = uint8(r.Level), r.Expiry
	case r.Level == cur && ce != 0 && (r.Expiry == 0 || r.Expiry > ce):
		p.exp[id] = r.Expiry
	}
}

// resetLevel forgets a block's retention (evicted, uncached or decayed). A block kept
// at no level or the default one has no expiry to clear (see Pool.exp), so the
// common case touches only the block's record.
func (p *Pool) resetLevel(id BlockID) {
	b := &p.blocks[id]
	if b.level != levelNone && int(b.level) != p.defLevel {
		p.exp[id] = 0
	}
	b.level = levelNone
}

// levelOf is the level block id is placed at now.
func (p *Pool) levelOf(id BlockID) int {
	l := int(p.blocks[id].level)
	if l == levelNone || l == p.defLevel || p.exp[id] != 0 && p.exp[id] <= p.now {
		return p.defLevel
	}
	return l
}

// keptLevel is the list a free cached block kept at a non-default level goes to: its
// level, scheduling its decay, or DefaultLevel if the level expired while the block
// was held (then forgotten).
func (p *Pool) keptLevel(id BlockID) int {
	l := p.levelOf(id)
	if l == p.defLevel {
		p.resetLevel(id)
	} else if e := p.exp[id]; e != 0 {
		p.pushDecay(e, id)
	}
	return l
}

// Now returns the pool's clock (SetTime).
func (p *Pool) Now() int64 { return p.now }

// SetTime advances the pool's clock to now (0 ≤ now ≤ MaxTime, never backwards:
// ErrInvalidRetention, changing nothing) and moves every free block whose retention
// expired to the tail of DefaultLevel, in expiry order (ties by block id), as if
// released at that moment. The clock is logical: any monotonic unit works.
func (p *Pool) SetTime(now int64) error {
	if now < p.now || now > MaxTime {
		return fmt.Errorf("%w: time %d before the clock (%d) or after MaxTime", ErrInvalidRetention, now, p.now)
	}
	p.now = now
	for len(p.decay) > 0 && p.decay[0].at <= now {
		e := heap.Pop(&p.decay).(decayEntry)
		if !p.decays(e) {
			continue // stale: retained, re-leveled or already moved since
		}
		p.free.remove(e.id)
		p.resetLevel(e.id)
		p.free.pushTail(e.id, 1+p.defLevel)
	}
	return nil
}

// decays reports whether a decay entry is live: its block is still free in the list
// of a non-default level it was placed at with this expiry.
func (p *Pool) decays(e decayEntry) bool {
	b := &p.blocks[e.id]
	return b.ref == 0 && p.exp[e.id] == e.at && b.level != levelNone && int(b.level) != p.defLevel && int(b.list) == 1+int(b.level)
}

// Level returns the retention level kept for block id and its expiry (0: never), as
// recorded by the max rule; DefaultLevel and 0 when none is kept (an uncached block,
// one nobody asked a level for, one whose level decayed, or an out-of-range id). A
// held block's kept level may have expired; it then counts as none when released.
func (p *Pool) Level(id BlockID) (level int, expiry int64) {
	if !p.inRange(id) || p.blocks[id].level == levelNone {
		return p.defLevel, 0
	}
	return int(p.blocks[id].level), p.exp[id]
}

// Levels returns the number of retention levels and the default level.
func (p *Pool) Levels() (levels, defaultLevel int) { return p.levels, p.defLevel }

// decayEntry schedules a free block's decay; it is stale unless the block is still
// free at a non-default level with this expiry.
type decayEntry struct {
	at int64
	id BlockID
}

type decayHeap []decayEntry

func (h decayHeap) Len() int { return len(h) }
func (h decayHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].id < h[j].id
}
func (h decayHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *decayHeap) Push(x any)   { *h = append(*h, x.(decayEntry)) }
func (h *decayHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// pushDecay schedules block id's decay at at. Stale entries are dropped when the heap
// outgrows twice the pool, so it stays within MetadataBytesFor's bound.
func (p *Pool) pushDecay(at int64, id BlockID) {
	if len(p.decay) >= 2*p.NumBlocks()+64 {
		live := p.decay[:0]
		for _, e := range p.decay {
			if p.decays(e) {
				live = append(live, e)
			}
		}
		p.decay = live
		heap.Init(&p.decay)
	}
	heap.Push(&p.decay, decayEntry{at: at, id: id})
}

// flatten moves every free block to the default level's list, keeping the queue
// order, and forgets every retention (after the cache was emptied). It allocates a
// buffer of the free blocks (ResetCache and DropCached are rare).
func (p *Pool) flatten() {
	order := p.FreeOrder(make([]BlockID, 0, p.free.n))
	p.free.init(p.blocks, p.free.base, p.free.lists)
	for _, id := range order {
		p.resetLevel(id)
		p.free.pushTail(id, 1+p.defLevel)
	}
	p.decay = p.decay[:0]
}
