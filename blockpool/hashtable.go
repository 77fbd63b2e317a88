package blockpool

import "math/bits"

// hashTable maps a content hash to a block id with open addressing (linear probing,
// backward-shift deletion: no tombstones). Its capacity is fixed at a power of two at
// least twice the pool size, because at most NumBlocks hashes are cached at once, so
// it never grows, rehashes or allocates after construction — unlike a Go map under the
// insert/delete churn of a busy cache.
type hashTable struct {
	keys  []uint64
	vals  []BlockID // NoBlock marks an empty slot
	shift uint      // 64 − log2(len)
	mask  int
	n     int
}

func newHashTable(maxEntries int) hashTable {
	size := 1 << bits.Len(uint(2*max(1, maxEntries)-1))
	t := hashTable{keys: make([]uint64, size), vals: make([]BlockID, size),
		shift: uint(64 - bits.TrailingZeros(uint(size))), mask: size - 1}
	for i := range t.vals {
		t.vals[i] = NoBlock
	}
	return t
}

// home is the slot a key would like: Fibonacci hashing, so a user Hasher with weak
// low bits still spreads.
func (t *hashTable) home(h uint64) int { return int((h * 0x9E3779B97F4A7C15) >> t.shift) }

// find returns the slot holding h, or the empty slot where it would go.
func (t *hashTable) find(h uint64) (int, bool) {
	for i := t.home(h); ; i = (i + 1) & t.mask {
		if t.vals[i] == NoBlock {
			return i, false
		}
		if t.keys[i] == h {
			return i, true
		}
	}
}

func (t *hashTable) get(h uint64) (BlockID, bool) {
	i, ok := t.find(h)
	return t.vals[i], ok
}

// set maps h to id (inserting or replacing).
func (t *hashTable) set(h uint64, id BlockID) {
	i, ok := t.find(h)
	if !ok {
		if t.n+1 > len(t.vals)/2 {
			panic("blockpool: hash table over capacity")
		}
		t.n++
		t.keys[i] = h
	}
	t.vals[i] = id
}

// del removes h (which must be present) and shifts later entries of its probe run
// back so lookups never stop early.
func (t *hashTable) del(h uint64) {
	i, ok := t.find(h)
	if !ok {
		return
	}
	t.n--
	for j := (i + 1) & t.mask; t.vals[j] != NoBlock; j = (j + 1) & t.mask {
		// The entry at j may move to the hole at i if its home is not in (i, j].
		if k := t.home(t.keys[j]); (j-k)&t.mask >= (j-i)&t.mask {
			t.keys[i], t.vals[i] = t.keys[j], t.vals[j]
			i = j
		}
	}
	t.vals[i] = NoBlock
}

func (t *hashTable) len() int { return t.n }

// each calls f for every entry.
func (t *hashTable) each(f func(h uint64, id BlockID)) {
	for i, v := range t.vals {
		if v != NoBlock {
			f(t.keys[i], v)
		}
	}
}

func (t *hashTable) reset() {
	for i := range t.vals {
		t.vals[i] = NoBlock
	}
	t.n = 0
}
