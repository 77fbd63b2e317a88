package cluster

import (
	"context"
	"sync/atomic"
)

// matchCand is one engine's run while matching.
type matchCand struct {
	slot    uint16
	v       uint64 // the slot state seen at block 0 (epoch<<1 | visible)
	blocks  int
	gpu     int
	lastGPU int // last block counted in gpu
}

type matchScratch struct {
	cands  []matchCand
	candOf []int32 // slot → index in cands, −1 if none
}

func newMatchScratch(maxEngines int) any {
	s := &matchScratch{candOf: make([]int32, maxEngines)}
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
	sc := x.scratch.Get().(*matchScratch)
	sc.cands = sc.cands[:0]
	// A long query takes every shard's read lock once, in shard order (writers hold
	// one shard lock at a time, so ordered readers cannot deadlock), and then walks
	// its blocks without atomic operations, so the CPU overlaps their cache misses.
	// A short one locks per block.
	lockAll := len(hashes) >= len(x.shards)
	if lockAll {
		for i := range x.shards {
			x.shards[i].mu.RLock()
		}
	}
	if lockAll {
		x.walkPrefetched(sc, hashes)
	} else {
		for i, h := range hashes {
			s := x.shardOf(h)
			s.mu.RLock()
			extended := x.visit(sc, i, s.get(h))
			s.mu.RUnlock()
			if extended == 0 {
				break
			}
		}
	}
	if lockAll {
		for i := range x.shards {
			x.shards[i].mu.RUnlock()
		}
	}
	cands := sc.cands
	for k := range cands {
		cd := &cands[k]
		sc.candOf[cd.slot] = -1
		st := &x.slots[cd.slot]
		id := st.id.Load()
		if st.v.Load() != cd.v || id == nil {
			continue // the engine changed (dropped, cleared, hidden) while matching
		}
		dst = append(dst, EngineMatch{Engine: *id, Blocks: cd.blocks, GPUBlocks: cd.gpu})
	}
	sc.cands = cands[:0]
	x.scratch.Put(sc)
	return dst, nil
}

// prefetchBatch is how many blocks walkPrefetched looks ahead.
const prefetchBatch = 16

// walkPrefetched visits blocks in batches: it first touches each block's table slot,
// then each node and its entry array, with independent loads the CPU can overlap, and
// only then walks the batch in order (stopping at the first block that extends no
// run). Every shard's read lock must be held. The touched values feed sink so the
// compiler keeps the loads.
func (x *MemoryIndex) walkPrefetched(sc *matchScratch, hashes []uint64) {
	var nodes [prefetchBatch]*node
	var sink uint64
	for lo := 0; lo < len(hashes); lo += prefetchBatch {
		batch := hashes[lo:min(len(hashes), lo+prefetchBatch)]
		for _, h := range batch {
			s := x.shardOf(h)
			sink += s.t.slots[s.t.home(h)].hash
		}
		for k, h := range batch {
			nodes[k] = x.shardOf(h).get(h)
			if nd := nodes[k]; nd != nil {
				sink += uint64(nd.inline[0].epoch)
				if len(nd.more) > 0 {
					sink += uint64(nd.more[0].epoch)
				}
			}
		}
		for k := range batch {
			if x.visit(sc, lo+k, nodes[k]) == 0 {
				x.sink.Add(sink & 1)
				return
			}
		}
	}
	x.sink.Add(sink & 1)
}

// visit extends the runs with block i (node nd, nil if absent) and returns how many
// runs it extended (block 0: started). Called under nd's shard read lock.
func (x *MemoryIndex) visit(sc *matchScratch, i int, nd *node) int {
	if nd == nil {
		return 0
	}
	markRef(nd)
	if i == 0 {
		x.start(sc, nd.inline[:min(int(nd.n), len(nd.inline))])
		x.start(sc, nd.more)
		return len(sc.cands)
	}
	return extend(sc, i, nd.inline[:min(int(nd.n), len(nd.inline))]) + extend(sc, i, nd.more)
}

// start begins a run for every visible engine holding block 0.
func (x *MemoryIndex) start(sc *matchScratch, es []entry) {
	for k := range es {
		e := &es[k]
		v := x.slots[e.eng].v.Load()
		if v&1 == 0 || uint32(v>>1) != e.epoch {
			continue
		}
		c := sc.candOf[e.eng]
		if c < 0 {
			c = int32(len(sc.cands))
			sc.candOf[e.eng] = c
			sc.cands = append(sc.cands, matchCand{slot: e.eng, v: v, blocks: 1, lastGPU: -1})
		}
		if cd := &sc.cands[c]; e.tier == TierGPU && cd.lastGPU != 0 {
			cd.gpu, cd.lastGPU = 1, 0
		}
	}
}

// extend extends the runs that reached block i with its entries es.
func extend(sc *matchScratch, i int, es []entry) int {
	extended := 0
	for k := range es {
		e := &es[k]
		c := sc.candOf[e.eng]
		if c < 0 {
			continue
		}
		cd := &sc.cands[c]
		if uint32(cd.v>>1) != e.epoch {
			continue
		}
		if cd.blocks == i {
			cd.blocks = i + 1
			extended++
		}
		if cd.blocks == i+1 && e.tier == TierGPU && cd.lastGPU != i {
			cd.gpu, cd.lastGPU = cd.gpu+1, i
		}
	}
	return extended
}

// markRef gives a matched node a second chance at eviction. Called under the
// shard's read lock; the store is skipped when already set to keep the line clean.
func markRef(nd *node) {
	if atomic.LoadUint32(&nd.ref) == 0 {
		atomic.StoreUint32(&nd.ref, 1)
	}
}
