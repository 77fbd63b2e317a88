package cluster

import "math/bits"

// hashTable maps block hashes to node indices: open addressing with linear probing
// and backward-shift deletion (no tombstones), grown by doubling at 3/4 load. One
// lookup touches one 16-byte slot (rarely a few neighbours), where a Go map touches a
// control word and a slot in separate cache lines; matching is bound by these misses.
//
// Invariant (checkInvariants): every live key k sits in the probe run starting at
// home(k) with no empty slot between home(k) and its position; n = live slots.
type hashTable struct {
	slots []tslot
	shift uint // 64 − log2(len(slots))
	n     int
}

type tslot struct {
	hash uint64
	idx  int32 // node index + 1; 0 = empty
}

const minTableBits = 6

func (t *hashTable) init() { t.resize(minTableBits) }

func (t *hashTable) resize(b uint) {
	old := t.slots
	t.slots = make([]tslot, 1<<b)
	t.shift = 64 - b
	t.n = 0
	for _, s := range old {
		if s.idx != 0 {
			t.insert(s.hash, s.idx-1)
		}
	}
}

func (t *hashTable) home(h uint64) int {
	return int((h ^ h>>31) * 0xBF58476D1CE4E5B9 >> t.shift)
}

// lookup returns the node index of h, or −1.
func (t *hashTable) lookup(h uint64) int32 {
	mask := len(t.slots) - 1
	for i := t.home(h); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.idx == 0 {
			return -1
		}
		if s.hash == h {
			return s.idx - 1
		}
	}
}

// insert adds h → idx; h must be absent.
func (t *hashTable) insert(h uint64, idx int32) {
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

// each calls f for every live key.
func (t *hashTable) each(f func(h uint64, idx int32)) {
	for _, s := range t.slots {
		if s.idx != 0 {
			f(s.hash, s.idx-1)
		}
	}
}

func (t *hashTable) checkInvariants() bool {
	mask, n := len(t.slots)-1, 0
	for i, s := range t.slots {
		if s.idx == 0 {
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
