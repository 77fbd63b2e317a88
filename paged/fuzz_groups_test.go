package paged

import (
	"fmt"
	"slices"
	"testing"
)

// FuzzGroups runs the FuzzManager operations on managers with KV-cache groups:
// data[3] chooses the groups and their windows (fuzzGroupSet). On top of the usual
// checks, every group's KV is read back through its own table (a windowed group's
// from its window on, its released entries must be exactly NullBlock), decode slots
// are compared per group, rollbacks into a released window must fail, and every
// lookup is compared with oracleHit, the longest hit valid for all groups found by
// brute force.
func FuzzGroups(f *testing.F) {
	for i, seed := range fuzzSeeds()[:16] {
		seed = slices.Clone(seed)
		seed[3] = byte(i * 29)
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { runFuzzGroups(t, data, false, true) })
}

// TestRandomGroupOperations runs FuzzGroups' seeds over every group set, half of
// them with prefix caching forced on (hits, windows released while cached).
func TestRandomGroupOperations(t *testing.T) {
	for i, seed := range fuzzSeeds() {
		for _, caching := range []bool{false, true} {
			seed = slices.Clone(seed)
			seed[3] = byte(i*8 + i/8) // every set, various windows
			if caching {
				seed[2] &^= flagNoCaching
				seed[0] |= 0x80 // a larger pool
			}
			t.Run(fmt.Sprint(i, caching), func(t *testing.T) { runFuzzGroups(t, seed, false, true) })
		}
	}
}

// fuzzGroupSet turns a byte into KV-cache groups for blocks of bs tokens: the low 3
// bits choose the shape, the rest the windows (2..3bs+1) and chunk sizes (1..3bs).
func fuzzGroupSet(b byte, bs int) []KVGroup {
	w1 := 2 + int(b>>3)%(3*bs)
	w2 := 2 + int(b>>5)%(2*bs)
	c := 1 + int(b>>4)%(3*bs)
	switch b % 8 {
	case 0: // Mistral 7B v0.1: every layer windowed
		return []KVGroup{sw(w1)}
	case 1: // Gemma 2, gpt-oss
		return []KVGroup{fullGroup(), sw(w1)}
	case 2: // Llama 4
		return []KVGroup{fullGroup(), chunked(c)}
	case 3: // Gemma 3: several window groups
		return []KVGroup{fullGroup(), sw(w1), sw(w2)}
	case 4: // group 0 windowed
		return []KVGroup{sw(w1), fullGroup()}
	case 5:
		return []KVGroup{fullGroup(), fullGroup()}
	case 6:
		return []KVGroup{chunked(c), sw(w1), fullGroup()}
	}
	return []KVGroup{sw(w1), sw(w2)}
}

// oracleHit is the hit a hybrid lookup of the sequence must find, by brute force:
// the longest n (in blocks, at most the lookup's cap) such that every group has
// cached every block it needs at n — all of [0, n) for full attention (a chain of
// identities), [skip(n), n) under prefix fingerprints for a windowed group.
func (m *Manager) oracleHit(id SeqID) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil || !m.caching() {
		return 0
	}
	for n := min(m.maxHitBlocks(len(s.tokens)), s.chain.Len()); n > 0; n-- {
		ok := true
		for g := range m.grp {
			if m.grp[g].kind == FullAttention {
				var parent uint64
				for j := 0; j < n && ok; j++ {
					_, parent, ok = m.pool.LookupIdentity(m.groupKey(&s.chain, s.tokens, j, g, parent))
				}
				continue
			}
			for j := m.skipBlocks(g, n*m.bs); j < n && ok; j++ {
				_, ok = m.pool.Lookup(m.groupKey(&s.chain, s.tokens, j, g, m.fpIdent(&s.chain, s.fps, j-1)))
			}
		}
		if ok {
			return n * m.bs
		}
	}
	return 0
}
