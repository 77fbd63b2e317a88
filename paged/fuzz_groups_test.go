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
// them with prefix caching forced on (hits, windows released while cached), half
// with GroupedEviction.
func TestRandomGroupOperations(t *testing.T) {
	for i, seed := range fuzzSeeds() {
		for _, caching := range []bool{false, true} {
			seed = slices.Clone(seed)
			seed[3] = byte(i*8 + i/8) // every set, various windows
			if caching {
				seed[2] &^= flagNoCaching
				seed[0] |= 0x80 // a larger pool
			}
			seed[1] = seed[1]&^0x80 | byte(i/2%2)<<7 // GroupedEviction in every other pair
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

// gmix is what group g's KV differs by from group 0's at the same position (even,
// so a written fingerprint stays odd; 0 for group 0).
func gmix(g int) uint64 { return uint64(g) << 8 }

// truthHash is the hash the truth records a block of group g under.
func truthHash(hash uint64, g int) uint64 { return hash + uint64(g)*0x5851F42D4C957F2D }

// liveFrom is the model's first table entry of group g that holds a block: at each
// reservation, the blocks before the window (or chunk) of the next token to compute
// are released.
func (f *fuzzer) liveFrom(s *modelSeq, g int) int {
	if !s.started {
		return 0
	}
	k, c := f.groups[g], s.relAt
	switch k.Kind {
	case SlidingWindow:
		return max(0, c-k.Window+1) / f.bs
	case ChunkedLocal:
		return c / k.Window * k.Window / f.bs
	}
	return 0
}

// rollbackBlocked reports whether rolling s back to computed tokens would need a
// block a windowed group released.
func (f *fuzzer) rollbackBlocked(s *modelSeq, computed int) bool {
	c := *s
	c.relAt = computed
	for g := range f.groups {
		if f.liveFrom(&c, g) < f.liveFrom(s, g) {
			return true
		}
	}
	return false
}

func (f *fuzzer) slotsOfG(s *modelSeq, g, from, to int) []int64 {
	var err error
	f.slots, err = f.m.SlotMappingGroup(s.id, g, from, to, f.slots[:0])
	if err != nil {
		f.fatalf("SlotMappingGroup(%d, %d, %d, %d): %v", s.id, g, from, to, err)
	}
	return f.slots
}
