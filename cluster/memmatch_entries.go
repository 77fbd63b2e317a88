package cluster

import "math/bits"

// The entry path of matching (see memmatch.go): candidates are the engines holding
// block 0; each block's entries are checked against the candidates' epochs.

// visit extends the runs of the entry path with block walked (slot ts and node nd,
// nil if absent) and reports whether any goes on. Called under the block's shard
// read lock.
func (x *MemoryIndex) visit(sc *matchScratch, ts *tslot, nd *node) bool {
	nw := sc.words()
	if ts == nil {
		for w := range nw {
			sc.endWord(w, sc.alive[w], sc.walked)
			sc.alive[w] = 0
		}
		return false
	}
	markRef(ts)
	clear(sc.present[:nw])
	clear(sc.gpu[:nw])
	in, more := nd.entries()
	sc.mark(in)
	sc.mark(more)
	return sc.step(nw)
}

// step ends the runs of candidates not present in block walked, counts CPU-only
// blocks, and advances walked if any run goes on.
func (sc *matchScratch) step(nw int) bool {
	i := sc.walked
	live := false
	for w := range nw {
		a := sc.alive[w]
		p := sc.present[w] & a
		if ended := a &^ p; ended != 0 {
			sc.endWord(w, ended, i)
		}
		for cpuOnly := p &^ sc.gpu[w]; cpuOnly != 0; cpuOnly &= cpuOnly - 1 {
			sc.cands[w<<6+bits.TrailingZeros64(cpuOnly)].cpu++
		}
		sc.alive[w] = p
		live = live || p != 0
	}
	if live {
		sc.walked = i + 1
	}
	return live
}

// startEntries begins an entry-path run for every visible engine with an entry of
// block 0 in es, and marks its tiers.
func (x *MemoryIndex) startEntries(sc *matchScratch, es []entry) {
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
			sc.cands = append(sc.cands, matchCand{slot: e.eng, v: v, epoch: e.epoch, end: -1})
			if w := sc.words(); len(sc.alive) < w {
				sc.alive, sc.present, sc.gpu = append(sc.alive, 0), append(sc.present, 0), append(sc.gpu, 0)
			}
			if c&63 == 0 {
				sc.present[c>>6], sc.gpu[c>>6] = 0, 0
			}
		}
		sc.present[c>>6] |= 1 << (c & 63)
		if e.tier == TierGPU {
			sc.gpu[c>>6] |= 1 << (c & 63)
		}
	}
}

// mark sets the present (and gpu) bits of the candidates holding a block with
// entries es.
func (sc *matchScratch) mark(es []entry) {
	for k := range es {
		e := &es[k]
		c := sc.candOf[e.eng]
		if c < 0 || sc.cands[c].epoch != e.epoch {
			continue
		}
		sc.present[c>>6] |= 1 << (c & 63)
		if e.tier == TierGPU {
			sc.gpu[c>>6] |= 1 << (c & 63)
		}
	}
}
