package cluster

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// entry says that engine slot eng holds count blocks of a node's hash in tier, as of
// the slot's epoch. An entry whose epoch is not its slot's current epoch is dead (the
// engine was dropped or cleared) and is never matched; sweeps remove it.
type entry struct {
	eng   uint16
	tier  Tier
	count uint8 // ≥ 1; 255 means "255 or more" (saturated)
	epoch uint32
}

const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
	nilNode   = int32(-1)
	maxCount  = 255
)

// node is one block key's bookkeeping and entries. 64 bytes.
type node struct {
	hash       uint64
	prev, next int32  // LRU list of the shard, head = most recently stored
	n          uint16 // entries in use; 0 ⇔ the node is free
	inline     [2]entry
	more       []entry // entries beyond the first two
}

func (nd *node) at(i int) *entry {
	if i < len(nd.inline) {
		return &nd.inline[i]
	}
	return &nd.more[i-len(nd.inline)]
}

// entries returns the node's entries as two slices (inline, more).
func (nd *node) entries() ([]entry, []entry) {
	return nd.inline[:min(int(nd.n), len(nd.inline))], nd.more
}

func (nd *node) find(eng uint16, tier Tier) int {
	for i := range int(nd.n) {
		if e := nd.at(i); e.eng == eng && e.tier == tier {
			return i
		}
	}
	return -1
}

func (nd *node) add(e entry) {
	if int(nd.n) < len(nd.inline) {
		nd.inline[nd.n] = e
	} else {
		nd.more = append(nd.more, e)
	}
	nd.n++
}

// del removes entry i by moving the last entry into its place.
func (nd *node) del(i int) {
	last := int(nd.n) - 1
	*nd.at(i) = *nd.at(last)
	if last >= len(nd.inline) {
		nd.more = nd.more[:last-len(nd.inline)]
	} else {
		nd.inline[last] = entry{}
	}
	nd.n--
}

// masks computes the slot masks of a node's entries (see tslot).
func (nd *node) masks() (holders, gpu uint64) {
	for i := range int(nd.n) {
		if e := nd.at(i); e.eng < 64 {
			holders |= 1 << e.eng
			if e.tier == TierGPU {
				gpu |= 1 << e.eng
			}
		}
	}
	return holders, gpu
}

// shard is one lock's worth of the memory index: a table from hash to slot (with the
// key's holder masks), nodes in fixed chunks (never moved, so a node pointer stays
// valid under the read lock), a free list, and an LRU list over live nodes.
//
// Invariants (checkInvariants): t holds live keys; every t[h] points at a live node
// with hash h; the LRU list holds exactly the live nodes; free holds exactly the
// non-live nodes below used; no key has two entries for one (eng, tier); every slot's
// masks are its node's; entries == Σ node.n.
type shard struct {
	mu         sync.RWMutex
	t          hashTable
	chunks     []*[chunkSize]node
	used       int32   // node indices [0, used) have been handed out
	free       []int32 // free node indices below used
	head, tail int32
	live       int
	capacity   int
	entries    int64
	hand       int32       // sweep clock hand
	pass       atomic.Bool // a sweep pass is open: entries that died may remain
	passStart  int32       // the pass ends when the hand, having wrapped, reaches it
	wrapped    bool        // the hand wrapped since the pass opened
	evictions  uint64
}

func (s *shard) init(capacity int) {
	s.t.init()
	s.head, s.tail = nilNode, nilNode
	s.capacity = capacity
}

func (s *shard) node(i int32) *node { return &s.chunks[i>>chunkBits][i&(chunkSize-1)] }

// find returns h's table slot, nil if absent (valid until the table changes).
func (s *shard) find(h uint64) *tslot { return s.t.find(h) }

func (s *shard) unlink(i int32) {
	nd := s.node(i)
	if nd.prev != nilNode {
		s.node(nd.prev).next = nd.next
	} else {
		s.head = nd.next
	}
	if nd.next != nilNode {
		s.node(nd.next).prev = nd.prev
	} else {
		s.tail = nd.prev
	}
	nd.prev, nd.next = nilNode, nilNode
}

func (s *shard) pushFront(i int32) {
	nd := s.node(i)
	nd.prev, nd.next = nilNode, s.head
	if s.head != nilNode {
		s.node(s.head).prev = i
	} else {
		s.tail = i
	}
	s.head = i
}

func (s *shard) touch(i int32) {
	if s.head != i {
		s.unlink(i)
		s.pushFront(i)
	}
}

// alloc returns a free node index, evicting the least recently used node first when
// the shard is full (a node matched since it was last considered gets one second
// chance, up to 8 times per allocation).
func (s *shard) alloc() int32 {
	if s.live >= s.capacity {
		for range 8 {
			t := s.tail
			ts := s.t.find(s.node(t).hash)
			if atomic.LoadUint32(&ts.flags)&flagRef == 0 {
				break
			}
			atomic.AndUint32(&ts.flags, ^flagRef)
			s.touch(t)
		}
		s.release(s.tail)
		s.evictions++
	}
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		return i
	}
	if int(s.used)>>chunkBits == len(s.chunks) {
		s.chunks = append(s.chunks, new([chunkSize]node))
	}
	i := s.used
	s.used++
	return i
}

// release frees live node i: drops its entries, removes it from the map and the LRU.
func (s *shard) release(i int32) {
	nd := s.node(i)
	s.unlink(i)
	s.t.delete(nd.hash)
	s.entries -= int64(nd.n)
	nd.n, nd.inline, nd.more, nd.hash = 0, [2]entry{}, nd.more[:0], 0
	s.free = append(s.free, i)
	s.live--
}

// store records one block of hash h held by (eng, tier) at epoch.
func (s *shard) store(h uint64, eng uint16, tier Tier, epoch uint32) {
	ts := s.t.find(h)
	var nd *node
	if ts == nil {
		i := s.alloc() // may evict (and move slots): before the insert
		nd = s.node(i)
		nd.hash = h
		ts = s.t.insert(h, i)
		s.pushFront(i)
		s.live++
	} else {
		i := ts.idx - 1
		nd = s.node(i)
		s.touch(i)
		if j := nd.find(eng, tier); j >= 0 {
			e := nd.at(j)
			switch {
			case e.epoch != epoch: // a dead entry of an earlier epoch of this slot
				e.epoch, e.count = epoch, 1
			case e.count < maxCount:
				e.count++
			}
			return
		}
	}
	nd.add(entry{eng: eng, tier: tier, count: 1, epoch: epoch})
	s.entries++
	ts.holders, ts.gpu = nd.masks()
}

// remove records that (eng, tier) dropped one block of hash h at epoch.
func (s *shard) remove(h uint64, eng uint16, tier Tier, epoch uint32) {
	ts := s.t.find(h)
	if ts == nil {
		return
	}
	i := ts.idx - 1
	nd := s.node(i)
	j := nd.find(eng, tier)
	if j < 0 {
		return
	}
	if e := nd.at(j); e.epoch == epoch && e.count > 1 && e.count < maxCount {
		e.count--
		return
	}
	nd.del(j) // last block, saturated count, or a dead entry
	s.entries--
	if nd.n == 0 {
		s.release(i)
		return
	}
	ts.holders, ts.gpu = nd.masks()
}

// openPass starts a sweep pass from the hand: once it has visited every node index
// (wrapping once), no entry that died before the call remains. It reports whether
// a pass was opened (false: one was open already, and starts over; or the shard has
// no nodes). Called under the write lock.
func (s *shard) openPass() bool {
	if s.used == 0 {
		return false
	}
	s.passStart, s.wrapped = s.hand, false
	return !s.pass.Swap(true)
}

// sweep visits up to k node indices from the clock hand, removing dead entries (and
// freeing nodes left empty), and reports whether the open pass completed. Called
// under the write lock with a pass open.
func (s *shard) sweep(k int, dead func(entry) bool) bool {
	for range k {
		if s.hand >= s.used {
			s.hand, s.wrapped = 0, true
		}
		if s.wrapped && s.hand >= s.passStart {
			s.pass.Store(false)
			return true
		}
		i := s.hand
		s.hand++
		nd := s.node(i)
		if nd.n == 0 {
			continue
		}
		changed := false
		for j := int(nd.n) - 1; j >= 0; j-- {
			if dead(*nd.at(j)) {
				nd.del(j)
				s.entries--
				changed = true
			}
		}
		switch {
		case nd.n == 0:
			s.release(i)
		case changed:
			ts := s.t.find(nd.hash)
			ts.holders, ts.gpu = nd.masks()
		}
	}
	return false
}

func (s *shard) checkInvariants() error {
	if !s.t.checkInvariants() {
		return fmt.Errorf("hash table probe runs broken")
	}
	if s.t.n != s.live {
		return fmt.Errorf("table holds %d keys, %d live nodes", s.t.n, s.live)
	}
	var entries int64
	var err error
	s.t.each(func(ts *tslot) {
		if err == nil {
			err = s.checkNode(ts)
			entries += int64(s.node(ts.idx - 1).n)
		}
	})
	if err != nil {
		return err
	}
	if entries != s.entries {
		return fmt.Errorf("entries counter %d, counted %d", s.entries, entries)
	}
	n, prev := 0, nilNode
	for i := s.head; i != nilNode; i = s.node(i).next {
		nd := s.node(i)
		if nd.prev != prev || nd.n == 0 {
			return fmt.Errorf("LRU list broken at node %d", i)
		}
		if n++; n > s.live {
			return fmt.Errorf("LRU list longer than %d live nodes", s.live)
		}
		prev = i
	}
	if n != s.live || s.tail != prev {
		return fmt.Errorf("LRU list has %d nodes (tail %d, want %d), %d live", n, s.tail, prev, s.live)
	}
	if len(s.free)+s.live != int(s.used) {
		return fmt.Errorf("%d free + %d live != %d used", len(s.free), s.live, s.used)
	}
	for _, i := range s.free {
		if s.node(i).n != 0 {
			return fmt.Errorf("free node %d has %d entries", i, s.node(i).n)
		}
	}
	if s.live > s.capacity {
		return fmt.Errorf("%d live nodes over capacity %d", s.live, s.capacity)
	}
	return nil
}

func (s *shard) checkNode(ts *tslot) error {
	h, i := ts.hash, ts.idx-1
	nd := s.node(i)
	if nd.n == 0 || nd.hash != h {
		return fmt.Errorf("table[%x] = node %d (n=%d hash=%x)", h, i, nd.n, nd.hash)
	}
	if len(nd.more) != max(0, int(nd.n)-len(nd.inline)) {
		return fmt.Errorf("node %x: %d entries, %d more", h, nd.n, len(nd.more))
	}
	for k := int(nd.n); k < len(nd.inline); k++ {
		if nd.inline[k] != (entry{}) {
			return fmt.Errorf("node %x: unused inline entry %d is %+v", h, k, nd.inline[k])
		}
	}
	if holders, gpu := nd.masks(); ts.holders != holders || ts.gpu != gpu {
		return fmt.Errorf("node %x: slot masks %x/%x, entries say %x/%x", h, ts.holders, ts.gpu, holders, gpu)
	}
	for a := range int(nd.n) {
		ea := nd.at(a)
		if ea.count == 0 || ea.tier >= numTiers {
			return fmt.Errorf("node %x entry %d: %+v", h, a, *ea)
		}
		for b := a + 1; b < int(nd.n); b++ {
			if eb := nd.at(b); eb.eng == ea.eng && eb.tier == ea.tier {
				return fmt.Errorf("node %x: two entries for engine slot %d tier %v", h, ea.eng, ea.tier)
			}
		}
	}
	return nil
}
