package blockpool

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// model is a deliberately simple pool: the free queue is a slice, state in maps.
type model struct {
	free   []BlockID
	ref    map[BlockID]int
	hash   map[BlockID]uint64
	policy ReleasePolicy
}

func newModel(n int, pol ReleasePolicy) *model {
	m := &model{ref: map[BlockID]int{}, hash: map[BlockID]uint64{}, policy: pol}
	for i := range n {
		m.free = append(m.free, BlockID(i))
	}
	return m
}

func (m *model) allocate(n int) []BlockID {
	if n > len(m.free) {
		return nil
	}
	out := slices.Clone(m.free[:n])
	m.free = m.free[n:]
	for _, id := range out {
		delete(m.hash, id)
		m.ref[id] = 1
	}
	return out
}

func (m *model) retain(id BlockID) {
	if m.ref[id] == 0 {
		i := slices.Index(m.free, id)
		m.free = slices.Delete(m.free, i, i+1)
	}
	m.ref[id]++
}

func (m *model) releaseTable(table []BlockID) {
	var head []BlockID
	for i := len(table) - 1; i >= 0; i-- {
		id := table[i]
		m.ref[id]--
		if m.ref[id] == 0 {
			_, cached := m.hash[id]
			if m.policy.ToHead(cached) {
				head = append(head, id)
			} else {
				m.free = append(m.free, id)
			}
		}
	}
	m.free = append(head, m.free...)
}

// TestRandomAgainstModel runs random operation mixes on the pool and the model and
// compares free-queue order, reference counts and cached state after every step.
func TestRandomAgainstModel(t *testing.T) {
	for _, pol := range []ReleasePolicy{UnhashedFirst{}, AllToTail{}} {
		for seed := range uint64(20) {
			runRandom(t, seed, pol, 300)
		}
	}
}

func runRandom(t *testing.T, seed uint64, pol ReleasePolicy, steps int) {
	r := rand.New(rand.NewPCG(seed, 7))
	n := 1 + r.IntN(24)
	p := newPool(t, n, 1, pol)
	m := newModel(n, pol)
	var tables [][]BlockID
	nextHash := uint64(1)
	for step := range steps {
		switch op := r.IntN(5); op {
		case 0, 1: // allocate a table
			k := r.IntN(4)
			got, err := p.Allocate(nil, k)
			want := m.allocate(k)
			if want == nil && k > 0 {
				require.Error(t, err)
				break
			}
			require.NoError(t, err)
			require.True(t, slices.Equal(want, got), "allocated %v, model %v", got, want)
			tables = append(tables, got)
		case 2: // release a table
			if len(tables) == 0 {
				break
			}
			i := r.IntN(len(tables))
			require.NoError(t, p.ReleaseTable(tables[i]))
			m.releaseTable(tables[i])
			tables = slices.Delete(tables, i, i+1)
		case 3: // cache a held, uncached block
			if len(tables) == 0 || len(tables[0]) == 0 {
				break
			}
			tb := tables[r.IntN(len(tables))]
			if len(tb) == 0 {
				break
			}
			id := tb[r.IntN(len(tb))]
			if _, ok := m.hash[id]; ok {
				break
			}
			_, err := p.Cache(id, key(nextHash%5, Root, int32(nextHash)))
			require.NoError(t, err)
			m.hash[id] = nextHash % 5
			nextHash++
		case 4: // revive or share a block (a prefix hit): new table with one block
			id := BlockID(r.IntN(n))
			if _, ok := m.hash[id]; !ok && m.ref[id] == 0 {
				break
			}
			require.NoError(t, p.Retain(id))
			m.retain(id)
			tables = append(tables, []BlockID{id})
		}
		require.NoError(t, p.CheckInvariants(), "seed %d step %d", seed, step)
		got := p.FreeOrder(nil)
		require.True(t, slices.Equal(m.free, got), "seed %d step %d: free queue %v, model %v", seed, step, got, m.free)
		for id := range BlockID(n) {
			require.Equal(t, m.ref[id], p.RefCount(id))
			h, ok := p.Hash(id)
			mh, mok := m.hash[id]
			require.Equal(t, mok, ok)
			require.Equal(t, mh, h)
		}
	}
	for _, tb := range tables {
		require.NoError(t, p.ReleaseTable(tb))
	}
	require.Equal(t, n, p.NumFree())
}

func FuzzPool(f *testing.F) {
	f.Add(uint64(1), uint16(50))
	f.Add(uint64(99), uint16(400))
	f.Fuzz(func(t *testing.T, seed uint64, steps uint16) {
		runRandom(t, seed, UnhashedFirst{}, int(steps%1000))
	})
}
