package paged

import (
	"reflect"
	"slices"

	"github.com/pagedkv/pagedkv/blockpool"
)

// snapshot is everything observable about a manager, read from its internals: each
// live sequence (counters, tokens, table, device or host), both free queues, each
// block's reference count and hash, the counters and the event queue. Two equal
// snapshots mean a call changed nothing.
type snapshot struct {
	Seqs       []seqSnap
	Free       []int32
	HostFree   []int32
	Blocks     []blockSnap
	HostBlocks []blockSnap
	Stats      Stats
	Events     []Event
	Pins       [][]int32
	Queued     []queuedBlock
}

type seqSnap struct {
	ID     SeqID
	State  SeqState
	Tokens []int32
	Table  []int32
	More   [][]int32 // the tables of groups 1, 2, …
	Fps    []uint64
	RelAt  [2]int // relAt, nextRel
}

type blockSnap struct {
	Ref    int
	Hash   uint64
	Cached bool
	Ident  uint64
	Level  int
	Expiry int64
	Group  uint32
}

func snapBlocks(p *blockpool.Pool) []blockSnap {
	var out []blockSnap
	for id := range int32(p.NumBlocks()) {
		h, ok := p.Hash(id)
		l, e := p.Level(id)
		k, _, _ := p.CachedKey(id)
		out = append(out, blockSnap{Ref: p.RefCount(id), Hash: h, Cached: ok, Ident: p.Identity(id), Level: l, Expiry: e, Group: k.Group})
	}
	return out
}

func takeSnapshot(m *Manager) snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s snapshot
	for i := range m.seqs {
		q := &m.seqs[i]
		if q.live {
			ss := seqSnap{ID: makeID(i, q.gen), State: m.state(q),
				Tokens: slices.Clone(q.tokens), Table: slices.Clone(q.table), Fps: slices.Clone(q.fps), RelAt: [2]int{q.relAt, q.nextRel}}
			for _, t := range q.more {
				ss.More = append(ss.More, slices.Clone(t))
			}
			s.Seqs = append(s.Seqs, ss)
		}
	}
	s.Free = m.pool.FreeOrder([]blockpool.BlockID{})
	s.Blocks = snapBlocks(m.pool)
	if m.host != nil {
		s.HostFree = m.host.FreeOrder([]blockpool.BlockID{})
		s.HostBlocks = snapBlocks(m.host)
	}
	s.Stats = m.statsLocked()
	s.Events = slices.Clone(m.events.cur.events)
	for _, p := range m.pins.pins {
		if p.live {
			s.Pins = append(s.Pins, slices.Clone(p.blocks))
		}
	}
	s.Queued = slices.Clone(m.tier.wt)
	return s
}

func equalSnapshots(a, b *snapshot) bool { return reflect.DeepEqual(*a, *b) }

// digest is a 64-bit fingerprint of everything takeSnapshot records, computed without
// allocating (buf is scratch): the fuzzer compares digests where the misuse suite
// compares snapshots.
func digest(m *Manager, buf *[]blockpool.BlockID) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := uint64(14695981039346656037)
	mix := func(v uint64) { h = (h ^ v) * 1099511628211 }
	b2u := func(b bool) uint64 {
		if b {
			return 1
		}
		return 0
	}
	for i := range m.seqs {
		q := &m.seqs[i]
		if !q.live {
			continue
		}
		mix(uint64(makeID(i, q.gen)))
		st := m.state(q)
		for _, v := range []int{st.Tokens, st.Computed, st.Reserved, st.Blocks, st.Cached, int(st.Frontier)} {
			mix(uint64(v))
		}
		mix(b2u(st.Started)<<1 | b2u(st.Swapped))
		for _, t := range q.tokens {
			mix(uint64(uint32(t)))
		}
		for _, b := range q.table {
			mix(uint64(uint32(b)))
		}
		for _, t := range q.more {
			mix(uint64(len(t)))
			for _, b := range t {
				mix(uint64(uint32(b)))
			}
		}
		for _, f := range q.fps {
			mix(f)
		}
		mix(uint64(q.relAt))
		mix(uint64(q.nextRel))
	}
	for _, p := range []*blockpool.Pool{m.pool, m.host} {
		if p == nil {
			continue
		}
		mix(uint64(p.NumFree()))
		*buf = p.FreeOrder((*buf)[:0])
		for _, b := range *buf {
			mix(uint64(uint32(b)))
		}
		for id := range int32(p.NumBlocks()) {
			hash, ok := p.Hash(id)
			l, e := p.Level(id)
			mix(uint64(p.RefCount(id)))
			mix(hash)
			mix(b2u(ok))
			mix(p.Identity(id))
			mix(uint64(l))
			mix(uint64(e))
			if ok {
				k, _, _ := p.CachedKey(id)
				mix(uint64(k.Group))
			}
		}
	}
	for _, p := range m.pins.pins {
		mix(b2u(p.live))
		for _, b := range p.blocks {
			mix(uint64(b))
		}
	}
	for _, q := range m.tier.wt {
		mix(uint64(q.id))
		mix(q.ident)
	}
	st := m.statsLocked()
	for _, v := range []uint64{uint64(st.UsedBlocks), uint64(st.CachedBlocks), uint64(st.Sequences), st.PrefixRequests,
		st.PrefixQueries, st.PrefixHits, st.RecentQueries, st.RecentHits, st.Evictions, st.CopyOnWrites, st.SwapOuts,
		st.SwapIns, uint64(st.HostFree), uint64(st.EventsQueued), st.EventsDropped, uint64(st.HostCachedBlocks), st.HostHits,
		st.Offloads, st.Onloads, st.HostEvictions, uint64(st.WriteThroughQueued), st.PartialReuses, st.PartialHits,
		uint64(st.Pins), uint64(st.PinnedBlocks), uint64(st.Clock), st.WindowReleases} {
		mix(v)
	}
	return h | 1
}
