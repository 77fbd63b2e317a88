package cluster

import (
	"context"
	"math/bits"
	"sync/atomic"
)

// Matching walks a request's hashes from block 0 and extends each engine's run of
// consecutive held blocks. Two paths give the same answer:
//
//   - the slot path, when the index has used at most 64 engine slots and no dead
//     entry is left (no sweep pass open): runs are a bit set over engine slots, and
//     a block costs its table slot's holder masks (one memory access, two AND-NOTs),
//     whatever the number of holders;
//   - the entry path otherwise: candidates are the engines holding block 0, and
//     each block's entries are checked one by one against the candidates' epochs.
//
// The choice is made at block 0, after reading the candidates' slot states, and the
// dirty count is read after them: an epoch bump raises it before it publishes the
// new state, so a walk that sees it at zero sees no entry its candidates' states
// make dead. A state that changes during the walk is caught at the end (endMatch
// drops the engine).

// matchCand is one engine's run on the entry path.
type matchCand struct {
	slot  uint16
	v     uint64 // the slot state seen at block 0 (epoch<<1 | visible)
	epoch uint32 // v's epoch: the entries of this run carry it
	end   int    // the run's length once it ended; −1 while it goes on
	cpu   int    // blocks of the run held on CPU only
}

// matchScratch is the state of one walk, which may continue over several chunks of
// a request's hashes (the scorer hashes chunk by chunk).
//
// Invariants between blocks: walked blocks were visited; slot path: alive ⊆
// started, a started slot not alive has end ≥ 0; entry path: alive has one bit per
// candidate still on its run, a candidate not alive has end ≥ 0, candOf maps exactly
// the candidates' slots (−1 elsewhere).
type matchScratch struct {
	walked int
	bySlot bool
	// holdAll: after block 0, read-lock every shard once and keep the locks until
	// endMatch (a walk in several chunks: the scorer's); held: they are held.
	holdAll, held bool

	// slot path: bit sets over engine slots 0..63
	salive, started uint64
	sv              [64]uint64 // slot state at block 0
	send, scpu      [64]int32  // run end (−1: going on); blocks held on CPU only

	// entry path
	cands   []matchCand
	candOf  []int32 // slot → index in cands, −1 if none
	alive   []uint64
	present []uint64 // the block being visited: candidates holding it in any tier
	gpu     []uint64 // ... on GPU

	locks []uint64 // shards to lock for the chunk being walked
	slots [prefetchBatch]*tslot
	nodes [prefetchBatch]*node
}

func newMatchScratch(maxEngines, shards int) any {
	s := &matchScratch{candOf: make([]int32, maxEngines), locks: make([]uint64, (shards+63)/64)}
	for i := range s.candOf {
		s.candOf[i] = -1
	}
	return s
}

// Match implements Index. It walks hashes from block 0 and stops at the first block
// that no engine still on its run holds. It allocates nothing in steady state.
func (x *MemoryIndex) Match(_ context.Context, hashes []uint64, dst []EngineMatch) ([]EngineMatch, error) {
	if x.closed.Load() {
		return dst, ErrClosed
	}
	if err := checkMatchLen(len(hashes)); err != nil {
		return dst, err
	}
	if len(hashes) == 0 {
		return dst, nil
	}
	sc := x.beginMatch()
	x.continueMatch(sc, hashes)
	return x.endMatch(sc, dst), nil
}

// beginMatch starts a walk (see continueMatch).
func (x *MemoryIndex) beginMatch() *matchScratch {
	sc := x.scratch.Get().(*matchScratch)
	sc.walked, sc.bySlot, sc.salive, sc.started, sc.holdAll = 0, false, 0, 0, false
	sc.cands = sc.cands[:0]
	return sc
}

// beginChunkedMatch starts a walk that will continue over several chunks: from
// block 1 on it holds every shard's read lock until endMatch, so the chunks cost
// one locking pass (the caller must not block between chunks: it hashes).
func (x *MemoryIndex) beginChunkedMatch() *matchScratch {
	sc := x.beginMatch()
	sc.holdAll = true
	return sc
}

// continueMatch walks the next blocks of the request, hashes (the first call gives
// block 0 on), and reports whether some run reaches the end of hashes: whether
// further blocks can change the answer. Block 0 is visited alone under its shard's
// lock (an unrelated prompt stops there); then the shards holding the chunk's blocks
// are read-locked together, in shard order (writers hold one shard lock at a time,
// so ordered readers cannot deadlock), and the blocks are visited in prefetched
// batches so the CPU overlaps their cache misses.
func (x *MemoryIndex) continueMatch(sc *matchScratch, hashes []uint64) bool {
	if sc.walked > 0 && !sc.anyAlive() || len(hashes) == 0 {
		return sc.walked > 0 && sc.anyAlive()
	}
	if sc.walked == 0 {
		s := x.shardOf(hashes[0])
		s.mu.RLock()
		more := x.start(sc, s, s.find(hashes[0]))
		s.mu.RUnlock()
		if !more || len(hashes) == 1 {
			return more
		}
		hashes = hashes[1:]
	}
	if sc.holdAll {
		if !sc.held {
			for i := range x.shards {
				x.shards[i].mu.RLock()
			}
			sc.held = true
		}
		return x.walkPrefetched(sc, hashes)
	}
	clear(sc.locks)
	for _, h := range hashes {
		i := x.shardIndex(h)
		sc.locks[i>>6] |= 1 << (i & 63)
	}
	x.eachLocked(sc.locks, func(s *shard) { s.mu.RLock() })
	more := x.walkPrefetched(sc, hashes)
	x.eachLocked(sc.locks, func(s *shard) { s.mu.RUnlock() })
	return more
}

func (x *MemoryIndex) eachLocked(set []uint64, f func(*shard)) {
	for w, word := range set {
		for word != 0 {
			f(&x.shards[w<<6+bits.TrailingZeros64(word)])
			word &= word - 1
		}
	}
}

// endMatch appends each engine's result to dst, releases the locks a chunked walk
// holds and returns the scratch.
func (x *MemoryIndex) endMatch(sc *matchScratch, dst []EngineMatch) []EngineMatch {
	if sc.held {
		for i := range x.shards {
			x.shards[i].mu.RUnlock()
		}
		sc.held = false
	}
	result := func(slot uint16, v uint64, blocks, cpu int) {
		st := &x.slots[slot]
		id := st.id.Load()
		if st.v.Load() != v || id == nil {
			return // the engine changed (dropped, cleared, hidden) while matching
		}
		dst = append(dst, EngineMatch{Engine: *id, Blocks: blocks, GPUBlocks: blocks - cpu})
	}
	if sc.bySlot {
		for set := sc.started; set != 0; set &= set - 1 {
			s := bits.TrailingZeros64(set)
			blocks := int(sc.send[s])
			if blocks < 0 {
				blocks = sc.walked
			}
			result(uint16(s), sc.sv[s], blocks, int(sc.scpu[s]))
		}
	}
	for k := range sc.cands {
		cd := &sc.cands[k]
		sc.candOf[cd.slot] = -1
		blocks := cd.end
		if blocks < 0 {
			blocks = sc.walked
		}
		result(cd.slot, cd.v, blocks, cd.cpu)
	}
	sc.cands = sc.cands[:0]
	x.scratch.Put(sc)
	return dst
}

// start visits block 0 (slot ts of shard s, nil if absent): it picks the path and
// begins a run for every visible engine holding the block. Called under s's read
// lock.
func (x *MemoryIndex) start(sc *matchScratch, s *shard, ts *tslot) bool {
	if ts == nil {
		return false
	}
	markRef(ts)
	if x.slotsUsed.Load() <= 64 && !x.entryPathOnly {
		for set := ts.holders; set != 0; set &= set - 1 {
			slot := bits.TrailingZeros64(set)
			v := x.slots[slot].v.Load()
			if v&1 == 0 {
				continue
			}
			sc.started |= 1 << slot
			sc.sv[slot], sc.send[slot], sc.scpu[slot] = v, -1, 0
		}
		if x.dirty.Load() == 0 { // read after the states: see the comment on top
			sc.bySlot, sc.salive, sc.walked = true, sc.started, 1
			for cpu := sc.started &^ ts.gpu; cpu != 0; cpu &= cpu - 1 {
				sc.scpu[bits.TrailingZeros64(cpu)] = 1
			}
			return sc.salive != 0
		}
		sc.started = 0
	}
	in, more := s.node(ts.idx - 1).entries()
	x.startEntries(sc, in)
	x.startEntries(sc, more)
	nw := sc.words()
	if nw == 0 {
		return false
	}
	copy(sc.alive[:nw], sc.present[:nw])
	return sc.step(nw)
}

// prefetchBatch is how many blocks walkPrefetched looks ahead.
const prefetchBatch = 16

// walkPrefetched visits the blocks of hashes in batches: it first touches each
// block's table slot (and, on the entry path, then each node and its entry array),
// with independent loads the CPU can overlap, and only then walks the batch in order,
// stopping at the first block that extends no run. The blocks' shard read locks must
// be held. The touched values feed sink so the compiler keeps the loads. It reports
// whether some run reaches the last block.
func (x *MemoryIndex) walkPrefetched(sc *matchScratch, hashes []uint64) bool {
	var sink uint64
	defer func() { x.sink.Add(sink & 1) }()
	defer sc.clearBatch()
	for lo := 0; lo < len(hashes); lo += prefetchBatch {
		batch := hashes[lo:min(len(hashes), lo+prefetchBatch)]
		for _, h := range batch {
			s := x.shardOf(h)
			sink += s.t.slots[s.t.home(h)].hash
		}
		if sc.bySlot {
			for _, h := range batch {
				if !sc.stepSlot(x.shardOf(h).find(h)) {
					return false
				}
			}
			continue
		}
		for k, h := range batch {
			s := x.shardOf(h)
			sc.slots[k], sc.nodes[k] = s.find(h), nil
			if ts := sc.slots[k]; ts != nil {
				nd := s.node(ts.idx - 1)
				sc.nodes[k] = nd
				sink += uint64(nd.inline[0].epoch)
				for j := 0; j < len(nd.more); j += 8 { // every cache line of the array
					sink += uint64(nd.more[j].epoch)
				}
			}
		}
		for k := range batch {
			if !x.visit(sc, sc.slots[k], sc.nodes[k]) {
				return false
			}
		}
	}
	return true
}

func (sc *matchScratch) clearBatch() {
	clear(sc.slots[:])
	clear(sc.nodes[:])
}

// stepSlot extends the runs of the slot path with block walked (slot ts, nil if
// absent) and reports whether any goes on.
func (sc *matchScratch) stepSlot(ts *tslot) bool {
	i := int32(sc.walked)
	if ts == nil {
		for set := sc.salive; set != 0; set &= set - 1 {
			sc.send[bits.TrailingZeros64(set)] = i
		}
		sc.salive = 0
		return false
	}
	markRef(ts)
	p := sc.salive & ts.holders
	for ended := sc.salive &^ p; ended != 0; ended &= ended - 1 {
		sc.send[bits.TrailingZeros64(ended)] = i
	}
	for cpu := p &^ ts.gpu; cpu != 0; cpu &= cpu - 1 {
		sc.scpu[bits.TrailingZeros64(cpu)]++
	}
	sc.salive = p
	if p == 0 {
		return false
	}
	sc.walked++
	return true
}

// words is the number of bit-set words the candidates need.
func (sc *matchScratch) words() int { return (len(sc.cands) + 63) / 64 }

func (sc *matchScratch) anyAlive() bool {
	if sc.bySlot {
		return sc.salive != 0
	}
	for _, w := range sc.alive[:sc.words()] {
		if w != 0 {
			return true
		}
	}
	return false
}

func (sc *matchScratch) endWord(w int, ended uint64, i int) {
	for ; ended != 0; ended &= ended - 1 {
		sc.cands[w<<6+bits.TrailingZeros64(ended)].end = i
	}
}

// markRef gives a matched key a second chance at eviction. Called under the
// shard's read lock; the store is skipped when already set to keep the line clean.
func markRef(ts *tslot) {
	if atomic.LoadUint32(&ts.flags)&flagRef == 0 {
		atomic.OrUint32(&ts.flags, flagRef)
	}
}
