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
	Seqs     []seqSnap
	Free     []int32
	HostFree []int32
	Blocks   []blockSnap
	Stats    Stats
	Events   []Event
}

type seqSnap struct {
	ID     SeqID
	State  SeqState
	Tokens []int32
	Table  []int32
}

type blockSnap struct {
	Ref    int
	Hash   uint64
	Cached bool
}

func takeSnapshot(m *Manager) snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s snapshot
	for i := range m.seqs {
		q := &m.seqs[i]
		if q.live {
			s.Seqs = append(s.Seqs, seqSnap{ID: makeID(i, q.gen), State: m.state(q),
				Tokens: slices.Clone(q.tokens), Table: slices.Clone(q.table)})
		}
	}
	s.Free = m.pool.FreeOrder([]blockpool.BlockID{})
	if m.host != nil {
		s.HostFree = m.host.FreeOrder([]blockpool.BlockID{})
	}
	for id := range int32(m.pool.NumBlocks()) {
		h, ok := m.pool.Hash(id)
		s.Blocks = append(s.Blocks, blockSnap{Ref: m.pool.RefCount(id), Hash: h, Cached: ok})
	}
	s.Stats = m.statsLocked()
	s.Events = slices.Clone(m.events.cur.events)
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
			mix(uint64(p.RefCount(id)))
			mix(hash)
			mix(b2u(ok))
		}
	}
	st := m.statsLocked()
	for _, v := range []uint64{uint64(st.UsedBlocks), uint64(st.CachedBlocks), uint64(st.Sequences), st.PrefixRequests,
		st.PrefixQueries, st.PrefixHits, st.RecentQueries, st.RecentHits, st.Evictions, st.CopyOnWrites, st.SwapOuts,
		st.SwapIns, uint64(st.HostFree), uint64(st.EventsQueued), st.EventsDropped} {
		mix(v)
	}
	return h | 1
}
