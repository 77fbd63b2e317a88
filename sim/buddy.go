package sim

import "math/bits"

// Buddy is a binary buddy allocator over a range of token slots, the allocator the
// vLLM paper assumes for its contiguous (Orca) baselines. A request of n slots gets a
// block of the next power of two; the rounding and the free blocks too small or too
// scattered for the next request are the external fragmentation the simulator
// measures. A capacity that is not a power of two is covered by several roots
// (its binary decomposition). Allocation takes the lowest free address of the
// smallest order that fits, so runs are deterministic.
type Buddy struct {
	capacity int
	free     []map[int]struct{} // free[k]: offsets of free blocks of 2^k slots
	rootEnd  []int              // sorted root boundaries, for buddy validity
	rootOrd  []int              // order of each root
	allocs   map[int]int        // offset → order of live allocations
	used     int                // slots in live allocations (after rounding)
}

// NewBuddy returns an allocator over capacity slots.
func NewBuddy(capacity int) *Buddy {
	b := &Buddy{capacity: capacity, allocs: map[int]int{}}
	maxOrd := bits.Len(uint(capacity))
	b.free = make([]map[int]struct{}, maxOrd+1)
	for k := range b.free {
		b.free[k] = map[int]struct{}{}
	}
	off := 0
	for k := maxOrd; k >= 0; k-- { // largest roots first
		if capacity&(1<<k) != 0 {
			b.free[k][off] = struct{}{}
			off += 1 << k
			b.rootEnd = append(b.rootEnd, off)
			b.rootOrd = append(b.rootOrd, k)
		}
	}
	return b
}

// orderFor returns the smallest k with 2^k ≥ n.
func orderFor(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// Alloc reserves a block for n slots and returns its offset, or false.
func (b *Buddy) Alloc(n int) (int, bool) {
	want := orderFor(n)
	for k := want; k < len(b.free); k++ {
		if len(b.free[k]) == 0 {
			continue
		}
		off := minKey(b.free[k])
		delete(b.free[k], off)
		for k > want { // split, keeping the lower half
			k--
			b.free[k][off+1<<k] = struct{}{}
		}
		b.allocs[off] = want
		b.used += 1 << want
		return off, true
	}
	return 0, false
}

// Free releases the block at off, merging buddies.
func (b *Buddy) Free(off int) {
	k, ok := b.allocs[off]
	if !ok {
		panic("sim: buddy free of an unallocated offset")
	}
	delete(b.allocs, off)
	b.used -= 1 << k
	base, rootOrd := b.root(off)
	for k < rootOrd {
		buddy := base + ((off - base) ^ (1 << k))
		if _, free := b.free[k][buddy]; !free {
			break
		}
		delete(b.free[k], buddy)
		off = min(off, buddy)
		k++
	}
	b.free[k][off] = struct{}{}
}

func (b *Buddy) root(off int) (base, order int) {
	for i, end := range b.rootEnd {
		if off < end {
			return end - 1<<b.rootOrd[i], b.rootOrd[i]
		}
	}
	panic("sim: offset beyond buddy capacity")
}

// Used returns the slots held by live allocations (rounded sizes).
func (b *Buddy) Used() int { return b.used }

// Capacity returns the total slots.
func (b *Buddy) Capacity() int { return b.capacity }

// LargestFree returns the size of the largest free block.
func (b *Buddy) LargestFree() int {
	for k := len(b.free) - 1; k >= 0; k-- {
		if len(b.free[k]) > 0 {
			return 1 << k
		}
	}
	return 0
}

func minKey(m map[int]struct{}) int {
	first, best := true, 0
	for k := range m {
		if first || k < best {
			best, first = k, false
		}
	}
	return best
}
