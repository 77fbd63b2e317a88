package blockpool

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// model is a deliberately simple pool: free lists are slices, state in maps, the
// retention rules written out plainly.
type model struct {
	lists  [][]BlockID // 0: head zone; 1+l: level l
	ref    map[BlockID]int
	hash   map[BlockID]uint64
	toks   map[BlockID]int32 // the one token of a cached block (block size 1)
	parent map[BlockID]uint64
	ident  map[BlockID]uint64
	group  map[BlockID]uint32
	level  map[BlockID]int
	exp    map[BlockID]int64
	policy ReleasePolicy
	def    int
	now    int64
}

func newModel(n, levels, def int, pol ReleasePolicy) *model {
	m := &model{lists: make([][]BlockID, levels+1), ref: map[BlockID]int{}, hash: map[BlockID]uint64{},
		toks: map[BlockID]int32{}, parent: map[BlockID]uint64{}, ident: map[BlockID]uint64{}, group: map[BlockID]uint32{},
		level: map[BlockID]int{}, exp: map[BlockID]int64{}, policy: pol, def: def}
	for i := range n {
		m.lists[1+def] = append(m.lists[1+def], BlockID(i))
	}
	return m
}

func (m *model) freeOrder() []BlockID {
	var out []BlockID
	for _, l := range m.lists {
		out = append(out, l...)
	}
	return out
}

func (m *model) uncache(id BlockID) {
	delete(m.hash, id)
	delete(m.toks, id)
	delete(m.parent, id)
	delete(m.ident, id)
	delete(m.level, id)
	delete(m.exp, id)
}

func (m *model) allocate(n int) []BlockID {
	order := m.freeOrder()
	if n > len(order) {
		return nil
	}
	out := slices.Clone(order[:n])
	for _, id := range out {
		m.unlink(id)
		m.uncache(id)
		m.ref[id] = 1
	}
	return out
}

func (m *model) unlink(id BlockID) {
	for l, list := range m.lists {
		if i := slices.Index(list, id); i >= 0 {
			m.lists[l] = slices.Delete(list, i, i+1)
			return
		}
	}
}

func (m *model) retain(id BlockID) {
	if m.ref[id] == 0 {
		m.unlink(id)
	}
	m.ref[id]++
}

// levelOf is the level a block is placed at: its kept level unless none is kept or
// it expired.
func (m *model) levelOf(id BlockID) int {
	if l, ok := m.level[id]; ok && (m.exp[id] == 0 || m.exp[id] > m.now) {
		return l
	}
	return m.def
}

func (m *model) release(ids []BlockID, r Retention) {
	if r.Level == m.def {
		r.Expiry = 0 // an ask at the default level never expires
	}
	var head []BlockID
	for _, id := range ids {
		m.ref[id]--
	}
	for _, id := range ids {
		_, cached := m.hash[id]
		if cached && (r.Expiry == 0 || r.Expiry > m.now) {
			cur, kept := m.level[id]
			ce := m.exp[id]
			if kept && ce != 0 && ce <= m.now {
				kept = false
			}
			switch {
			case !kept || r.Level > cur:
				m.level[id], m.exp[id] = r.Level, r.Expiry
			case r.Level == cur && ce != 0 && (r.Expiry == 0 || r.Expiry > ce):
				m.exp[id] = r.Expiry
			}
		}
		if m.ref[id] != 0 || slices.Contains(m.freeOrder(), id) || slices.Contains(head, id) {
			continue
		}
		if m.policy.ToHead(cached) {
			head = append(head, id)
			continue
		}
		l := m.def
		if cached {
			l = m.levelOf(id)
			if kl, ok := m.level[id]; ok && l == m.def && kl != m.def {
				delete(m.level, id) // expired while held
				delete(m.exp, id)
			}
		}
		m.lists[1+l] = append(m.lists[1+l], id)
	}
	m.lists[0] = append(head, m.lists[0]...)
}

func (m *model) setTime(now int64) {
	m.now = now
	var due []BlockID
	for l := range m.lists[1:] {
		if l == m.def {
			continue
		}
		for _, id := range m.lists[1+l] {
			if e := m.exp[id]; e != 0 && e <= now {
				due = append(due, id)
			}
		}
	}
	sort.Slice(due, func(i, j int) bool {
		a, b := due[i], due[j]
		return m.exp[a] < m.exp[b] || m.exp[a] == m.exp[b] && a < b
	})
	for _, id := range due {
		m.unlink(id)
		delete(m.level, id)
		delete(m.exp, id)
		m.lists[1+m.def] = append(m.lists[1+m.def], id)
	}
}

// partial is Pool.Partial for block size 1: the oldest cached block with this parent
// whose token matches.
func (m *model) partial(parent uint64, tok int32, order []BlockID) BlockID {
	for _, id := range order {
		if _, ok := m.hash[id]; ok && m.parent[id] == parent && m.toks[id] == tok && m.group[id] == 0 {
			return id
		}
	}
	return NoBlock
}

// TestRandomAgainstModel runs random operation mixes on the pool and the model and
// compares free-queue order, reference counts, cached state and retention levels
// after every step.
func TestRandomAgainstModel(t *testing.T) {
	for _, pol := range []ReleasePolicy{UnhashedFirst{}, AllToTail{}} {
		for seed := range uint64(30) {
			runRandom(t, seed, pol, 300)
		}
	}
}

func runRandom(t *testing.T, seed uint64, pol ReleasePolicy, steps int) {
	r := rand.New(rand.NewPCG(seed, 7))
	n := 1 + r.IntN(24)
	levels := 1 + r.IntN(4)
	def := r.IntN(levels)
	p, err := New(Config{NumBlocks: n, BlockSize: 1, Policy: pol, Levels: levels, DefaultLevel: def, IndexChildren: seed%2 == 0})
	require.NoError(t, err)
	m := newModel(n, levels, def, pol)
	var tables [][]BlockID
	var order []BlockID // cache insertion order (oldest first), for partial lookups
	nextHash := uint64(1)
	for step := range steps {
		switch op := r.IntN(8); op {
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
		case 2: // release a table, asking a random retention
			if len(tables) == 0 {
				break
			}
			i := r.IntN(len(tables))
			ret := Retention{Level: r.IntN(levels)}
			if r.IntN(2) == 0 {
				ret.Expiry = m.now + int64(r.IntN(6))
			}
			if r.IntN(3) == 0 {
				require.NoError(t, p.ReleaseTable(tables[i]))
				ret = Retention{Level: def}
			} else {
				require.NoError(t, p.ReleaseTableWith(tables[i], ret))
			}
			m.release(reversed(tables[i]), ret)
			tables = slices.Delete(tables, i, i+1)
		case 3: // cache a held, uncached block, as a child of a random identity
			if len(tables) == 0 {
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
			par := uint64(r.IntN(3))
			tok := int32(nextHash % 3)
			ident := fresh()
			k := key(nextHash%5, par, tok)
			k.Group = uint32(r.IntN(3)) % 2 * uint32(1+r.IntN(2)) // group 0 most often
			_, err := p.Cache(id, k, ident)
			require.NoError(t, err)
			m.hash[id], m.toks[id], m.parent[id], m.ident[id], m.group[id] = nextHash%5, tok, par, ident, k.Group
			order = append(slices.DeleteFunc(order, func(x BlockID) bool { return x == id }), id)
			nextHash++
		case 4: // revive or share a block (a prefix hit): new table with one block
			id := BlockID(r.IntN(n))
			if _, ok := m.hash[id]; !ok && m.ref[id] == 0 {
				break
			}
			require.NoError(t, p.Retain(id))
			m.retain(id)
			tables = append(tables, []BlockID{id})
		case 5: // advance the clock
			now := m.now + int64(r.IntN(4))
			require.NoError(t, p.SetTime(now))
			m.setTime(now)
			require.Error(t, p.SetTime(now-1))
		case 6: // partial lookup (block size 1: a full match of the one token)
			par, tok := uint64(r.IntN(3)), int32(r.IntN(3))
			live := order[:0:0]
			for _, id := range order {
				if _, ok := m.hash[id]; ok {
					live = append(live, id)
				}
			}
			order = live
			id, k := p.Partial(par, 0, []int32{tok}, 1000)
			want := NoBlock
			if seed%2 == 0 {
				want = m.partial(par, tok, order)
			}
			require.Equal(t, want, id, "partial(%d, %d)", par, tok)
			require.Equal(t, map[bool]int{true: 1, false: 0}[want != NoBlock], k)
		case 7: // reset when idle
			if len(m.freeOrder()) < n {
				require.Error(t, p.ResetCache())
				break
			}
			require.NoError(t, p.ResetCache())
			fo := m.freeOrder()
			for id := range m.hash {
				m.uncache(id)
			}
			m.lists = make([][]BlockID, levels+1)
			m.lists[1+def] = fo
		}
		require.NoError(t, p.CheckInvariants(), "seed %d step %d", seed, step)
		got := p.FreeOrder(nil)
		require.True(t, slices.Equal(m.freeOrder(), got), "seed %d step %d: free queue %v, model %v", seed, step, got, m.freeOrder())
		for id := range BlockID(n) {
			require.Equal(t, m.ref[id], p.RefCount(id))
			h, ok := p.Hash(id)
			mh, mok := m.hash[id]
			require.Equal(t, mok, ok)
			require.Equal(t, mh, h)
			require.Equal(t, m.ident[id], p.Identity(id))
			if mok {
				k, _, _ := p.CachedKey(id)
				require.Equal(t, m.group[id], k.Group)
				// A lookup finds the oldest equal block of the same group, never one
				// of another group.
				k.Tokens = slices.Clone(k.Tokens)
				got, ok := p.Lookup(k)
				require.True(t, ok)
				gk, _, _ := p.CachedKey(got)
				require.Equal(t, [4]uint64{k.Hash, k.Parent, uint64(k.Tokens[0]), uint64(k.Group)},
					[4]uint64{gk.Hash, gk.Parent, uint64(gk.Tokens[0]), uint64(gk.Group)})
				lvl, e := p.Level(id)
				ml, me := m.def, int64(0)
				if l, ok := m.level[id]; ok {
					ml, me = l, m.exp[id]
				}
				require.Equal(t, [2]int64{int64(ml), me}, [2]int64{int64(lvl), e}, "seed %d step %d block %d level", seed, step, id)
			}
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

func reversed(ids []BlockID) []BlockID {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}
