package cluster

import "math/bits"

// hashTable maps block hashes to their slot: open addressing with linear probing and
// backward-shift deletion (no tombstones), grown by doubling at 3/4 load. A slot is
// 32 bytes, two to a cache line, and summarizes the key's entries in two engine-slot
// bit masks, so matching a block (in an index of at most 64 engine slots with no
// dead entries left) reads its table slot and nothing else, however many engines
// hold it; the node (LRU links, the entries themselves) is read by updates and by
// the exact matching path.
//
// Invariant (checkInvariants): every live key k sits in the probe run starting at
// home(k) with no empty slot between home(k) and its position; n = live slots.
// Slots move (insert may grow the table, delete shifts the run back), so a *tslot
// is valid only until the next insert or delete.
type hashTable struct {
	slots []tslot
	shift uint // 64 − log2(len(slots))
	n     int
}

// tslot is one key. Invariants: idx == 0 ⇔ empty (and every field zero); bit s of
// holders ⇔ the key has an entry of engine slot s < 64 (any tier, any epoch); bit s
// of gpu ⇔ it has a GPU entry of engine slot s < 64.
type tslot struct {
	hash    uint64
	idx     int32  // node index + 1; 0 = empty
	flags   uint32 // flagRef (atomic: set by matching readers)
	holders uint64
	gpu     uint64
}

// flagRef marks a key matched since eviction last considered it (second chance).
const flagRef uint32 = 1

const minTableBits = 6

func (t *hashTable) init() { t.resize(minTableBits) }

func (t *hashTable) resize(b uint) {
	old := t.slots
	t.slots = make([]tslot, 1<<b)
	t.shift = 64 - b
	t.n = 0
	mask := len(t.slots) - 1
	for k := range old {
		if old[k].idx == 0 {
			continue
		}
		i := t.home(old[k].hash)
		for t.slots[i].idx != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = old[k]
		t.n++
	}
}

func (t *hashTable) home(h uint64) int {
	return int((h ^ h>>31) * 0xBF58476D1CE4E5B9 >> t.shift)
}

// find returns h's slot, or nil.
func (t *hashTable) find(h uint64) *tslot {
	mask := len(t.slots) - 1
	for i := t.home(h); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.idx == 0 {
			return nil
		}
		if s.hash == h {
			return s
		}
	}
}

// lookup returns the node index of h, or −1.
func (t *hashTable) lookup(h uint64) int32 {
	if s := t.find(h); s != nil {
		return s.idx - 1
	}
	return -1
}

// insert adds h → node idx with no entries (h must be absent) and returns its slot.
func (t *hashTable) insert(h uint64, idx int32) *tslot {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.resize(uint(bits.Len(uint(len(t.slots)))))
	}
	mask := len(t.slots) - 1
	i := t.home(h)
	for t.slots[i].idx != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = tslot{hash: h, idx: idx + 1}
	t.n++
	return &t.slots[i]
}

// delete removes h (present) and shifts later members of its probe run back.
func (t *hashTable) delete(h uint64) {
	mask := len(t.slots) - 1
	i := t.home(h)
	for t.slots[i].hash != h || t.slots[i].idx == 0 {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; t.slots[j].idx != 0; j = (j + 1) & mask {
		// Move slot j into the hole at i if its home is not in (i, j] (cyclically).
		if home := t.home(t.slots[j].hash); (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = tslot{}
	t.n--
}

// each calls f for every live key's slot.
func (t *hashTable) each(f func(s *tslot)) {
	for i := range t.slots {
		if t.slots[i].idx != 0 {
			f(&t.slots[i])
		}
	}
}

func (t *hashTable) checkInvariants() bool {
	mask, n := len(t.slots)-1, 0
	for i := range t.slots {
		s := &t.slots[i]
		if s.idx == 0 {
			if *s != (tslot{}) {
				return false
			}
			continue
		}
		n++
		for j := t.home(s.hash); j != i; j = (j + 1) & mask {
			if t.slots[j].idx == 0 {
				return false
			}
		}
	}
	return n == t.n
}
