package blockpool

import (
	"fmt"
	"math/bits"
)

// hashTable maps a content hash to a block id with open addressing (linear probing,
// backward-shift deletion: no tombstones). Its capacity is fixed at a power of two at
// least twice the pool size, because at most NumBlocks hashes are cached at once, so
// it never grows, rehashes or allocates after construction — unlike a Go map under the
// insert/delete churn of a busy cache. A slot holds its key and value side by side
// (16 bytes, four to a cache line), so a probe of a table far larger than the CPU's
// caches costs one cache miss, not one for the key and one for the value; callers
// that look a key up and then change it use the slot find returned, probing once.
type hashTable struct {
	slots []slot
	shift uint // 64 − log2(len)
	mask  int
	n     int // occupied slots; at most len/2
}

// slot is one entry of a hashTable: val == NoBlock marks an empty slot (key is then
// meaningless).
type slot struct {
	key uint64
	val BlockID
	_   uint32
}

func newHashTable(maxEntries int) hashTable {
	size := 1 << bits.Len(uint(2*max(1, maxEntries)-1))
	t := hashTable{slots: make([]slot, size), shift: uint(64 - bits.TrailingZeros(uint(size))), mask: size - 1}
	t.reset()
	return t
}

// home is the slot a key would like: Fibonacci hashing, so a user Hasher with weak
// low bits still spreads.
func (t *hashTable) home(h uint64) int { return int((h * 0x9E3779B97F4A7C15) >> t.shift) }

// touch reads the slots where a probe for h starts — its home and the next one, on
// the next cache line a quarter of the time, where lookups and backward-shift
// deletion continue — and returns what it read, so that a caller can prefetch them.
func (t *hashTable) touch(h uint64) BlockID {
	i := t.home(h)
	return t.slots[i].val | t.slots[(i+1)&t.mask].val
}

// find returns the slot holding h, or the empty slot where it would go.
func (t *hashTable) find(h uint64) (int, bool) {
	for i := t.home(h); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.val == NoBlock {
			return i, false
		}
		if s.key == h {
			return i, true
		}
	}
}

func (t *hashTable) get(h uint64) (BlockID, bool) {
	i, ok := t.find(h)
	return t.slots[i].val, ok
}

// set maps h to id (inserting or replacing).
func (t *hashTable) set(h uint64, id BlockID) {
	i, ok := t.find(h)
	if !ok {
		t.fill(i, h, id)
		return
	}
	t.slots[i].val = id
}

// fill puts h ↦ id into empty slot i, the one find(h) returned.
func (t *hashTable) fill(i int, h uint64, id BlockID) {
	if t.n+1 > len(t.slots)/2 {
		panic("blockpool: hash table over capacity")
	}
	t.n++
	t.slots[i] = slot{key: h, val: id}
}

// del removes h if present (see delAt).
func (t *hashTable) del(h uint64) {
	if i, ok := t.find(h); ok {
		t.delAt(i)
	}
}

// delAt empties occupied slot i and shifts later entries of its probe run back, so
// lookups never stop early.
func (t *hashTable) delAt(i int) {
	t.n--
	for j := (i + 1) & t.mask; ; j = (j + 1) & t.mask {
		s := &t.slots[j]
		if s.val == NoBlock {
			break
		}
		// The entry at j may move to the hole at i if its home is not in (i, j].
		if k := t.home(s.key); (j-k)&t.mask >= (j-i)&t.mask {
			t.slots[i] = *s
			i = j
		}
	}
	t.slots[i].val = NoBlock
}

func (t *hashTable) len() int { return t.n }

// each calls f for every entry.
func (t *hashTable) each(f func(h uint64, id BlockID)) {
	for i := range t.slots {
		if s := &t.slots[i]; s.val != NoBlock {
			f(s.key, s.val)
		}
	}
}

func (t *hashTable) reset() {
	for i := range t.slots {
		t.slots[i] = slot{val: NoBlock}
	}
	t.n = 0
}

// check verifies the table's structure: n counts the occupied slots, at most half of
// them, and find reaches every entry from its home through occupied slots only (what
// lookups and backward-shift deletion rely on) and finds no other slot with its key
// first (no key twice).
func (t *hashTable) check() error {
	n := 0
	for i := range t.slots {
		s := &t.slots[i]
		if s.val == NoBlock {
			continue
		}
		n++
		if j, ok := t.find(s.key); !ok || j != i {
			return fmt.Errorf("hash table: key %x at slot %d: find gives slot %d (found %v)", s.key, i, j, ok)
		}
	}
	if n != t.n || 2*n > len(t.slots) {
		return fmt.Errorf("hash table: %d occupied slots, count %d, capacity %d", n, t.n, len(t.slots))
	}
	return nil
}
