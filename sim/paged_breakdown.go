package sim

// breakdown is the paged policy's scratch for classifying every referenced block's
// slots, indexed by block id; stamp marks the blocks seen in the current sample.
type breakdown struct {
	stamp    []int
	tok, res []int
	distinct []int32
	n        int // the current sample's stamp
}

func newBreakdown(numBlocks int) breakdown {
	return breakdown{stamp: make([]int, numBlocks), tok: make([]int, numBlocks), res: make([]int, numBlocks)}
}

// sample classifies the slots of every block the running requests reference: a
// block shared by several sequences counts once, with the most any of them has
// computed (token states) or will fill (reserved); the rest of the block is internal
// fragmentation.
func (p *pagedPolicy) sample(running []*reqState, s *memSample) {
	bd := &p.bd
	bd.n++
	n := bd.n
	bd.distinct = bd.distinct[:0]
	st := p.m.Stats()
	s.capacity = st.NumBlocks * p.bs
	s.usedBlocks = st.UsedBlocks
	for _, r := range running {
		q := p.state(r)
		for i := range q.seqs {
			id := p.seq(q, i)
			state, err := p.m.State(id)
			if err != nil {
				panic(err)
			}
			p.tbl, _ = p.m.BlockTable(id, p.tbl[:0])
			s.logical += len(p.tbl)
			for j, b := range p.tbl {
				if bd.stamp[b] != n {
					bd.stamp[b], bd.tok[b], bd.res[b] = n, 0, 0
					bd.distinct = append(bd.distinct, b)
				}
				bd.tok[b] = max(bd.tok[b], min(p.bs, max(0, state.Computed-j*p.bs)))
				bd.res[b] = max(bd.res[b], min(p.bs, max(0, r.final-j*p.bs)))
			}
		}
	}
	s.physical += len(bd.distinct)
	for _, b := range bd.distinct {
		t, f := bd.tok[b], max(bd.tok[b], bd.res[b])
		s.token += t
		s.reserved += f - t
		s.internal += p.bs - f
	}
}
