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
