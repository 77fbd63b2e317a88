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

// node is one block hash and its entries. 64 bytes.
type node struct {
	hash       uint64
	prev, next int32  // LRU list of the shard, head = most recently stored
	ref        uint32 // atomic: set by Match, cleared by eviction (second chance)
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
	}
	nd.n--
}

// shard is one lock's worth of the memory index: a table from hash to node, nodes in
// fixed chunks (never moved, so a node pointer stays valid under the read lock), a
// free list, and an LRU list over live nodes.
//
// Invariants (checkInvariants): t holds live keys; every t[h] is a live node with hash
// h; the LRU list holds exactly the live nodes; free holds exactly the non-live nodes
// below used; no node has two entries for one (eng, tier); entries == Σ node.n.
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
	hand       int32        // sweep clock hand
	owed       atomic.Int64 // node visits owed to reclaim entries that died
	evictions  uint64
}

func (s *shard) init(capacity int) {
	s.t.init()
	s.head, s.tail = nilNode, nilNode
	s.capacity = capacity
}

func (s *shard) node(i int32) *node { return &s.chunks[i>>chunkBits][i&(chunkSize-1)] }

func (s *shard) get(h uint64) *node {
	if i := s.t.lookup(h); i >= 0 {
		return s.node(i)
	}
	return nil
}

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
			nd := s.node(t)
			if atomic.LoadUint32(&nd.ref) == 0 {
				break
			}
			atomic.StoreUint32(&nd.ref, 0)
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
	nd.n, nd.more, nd.ref, nd.hash = 0, nd.more[:0], 0, 0
	s.free = append(s.free, i)
	s.live--
}

// store records one block of hash h held by (eng, tier) at epoch.
func (s *shard) store(h uint64, eng uint16, tier Tier, epoch uint32) {
	i := s.t.lookup(h)
	if i < 0 {
		i = s.alloc()
		nd := s.node(i)
		nd.hash = h
		s.t.insert(h, i)
		s.pushFront(i)
		s.live++
		nd.add(entry{eng: eng, tier: tier, count: 1, epoch: epoch})
		s.entries++
		return
	}
	nd := s.node(i)
	s.touch(i)
	j := nd.find(eng, tier)
	if j < 0 {
		nd.add(entry{eng: eng, tier: tier, count: 1, epoch: epoch})
		s.entries++
		return
	}
	e := nd.at(j)
	switch {
	case e.epoch != epoch: // a dead entry of an earlier epoch of this slot
		e.epoch, e.count = epoch, 1
	case e.count < maxCount:
		e.count++
	}
}

// remove records that (eng, tier) dropped one block of hash h at epoch.
func (s *shard) remove(h uint64, eng uint16, tier Tier, epoch uint32) {
	i := s.t.lookup(h)
	if i < 0 {
		return
	}
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
	}
}

// sweep visits up to k node indices from the clock hand and removes dead entries
// (freeing nodes left empty). It returns the number of indices visited.
func (s *shard) sweep(k int, dead func(entry) bool) int {
	visited := 0
	for ; visited < k && s.used > 0; visited++ {
		if s.hand >= s.used {
			s.hand = 0
		}
		i := s.hand
		s.hand++
		nd := s.node(i)
		for j := int(nd.n) - 1; j >= 0; j-- {
			if dead(*nd.at(j)) {
				nd.del(j)
				s.entries--
				if nd.n == 0 {
					s.release(i)
				}
			}
		}
	}
	return visited
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
	s.t.each(func(h uint64, i int32) {
		if err == nil {
			err = s.checkNode(h, i)
			entries += int64(s.node(i).n)
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

func (s *shard) checkNode(h uint64, i int32) error {
	nd := s.node(i)
	if nd.n == 0 || nd.hash != h {
		return fmt.Errorf("table[%x] = node %d (n=%d hash=%x)", h, i, nd.n, nd.hash)
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
