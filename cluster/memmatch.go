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
// that no engine still on its run holds; each block costs one shard read lock.
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
	cands := sc.cands[:0]

	// Block 0: every visible engine holding it starts a run.
	s := x.shardOf(hashes[0])
	s.mu.RLock()
	if nd := s.get(hashes[0]); nd != nil {
		markRef(nd)
		for j := range int(nd.n) {
			e := nd.at(j)
			v := x.slots[e.eng].v.Load()
			if v&1 == 0 || uint32(v>>1) != e.epoch {
				continue
			}
			c := sc.candOf[e.eng]
			if c < 0 {
				c = int32(len(cands))
				sc.candOf[e.eng] = c
				cands = append(cands, matchCand{slot: e.eng, v: v, blocks: 1, lastGPU: -1})
			}
			if e.tier == TierGPU && cands[c].lastGPU != 0 {
				cands[c].gpu, cands[c].lastGPU = 1, 0
			}
		}
	}
	s.mu.RUnlock()

	// Later blocks extend the runs that reached them.
	for i := 1; i < len(hashes) && len(cands) > 0; i++ {
		extended := 0
		s := x.shardOf(hashes[i])
		s.mu.RLock()
		if nd := s.get(hashes[i]); nd != nil {
			markRef(nd)
			for j := range int(nd.n) {
				e := nd.at(j)
				c := sc.candOf[e.eng]
				if c < 0 {
					continue
				}
				cd := &cands[c]
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
		}
		s.mu.RUnlock()
		if extended == 0 {
			break
		}
	}

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

// markRef gives a matched node a second chance at eviction. Called under the
// shard's read lock; the store is skipped when already set to keep the line clean.
func markRef(nd *node) {
	if atomic.LoadUint32(&nd.ref) == 0 {
		atomic.StoreUint32(&nd.ref, 1)
	}
}
