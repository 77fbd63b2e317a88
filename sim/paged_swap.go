package sim

// swapOut moves every sequence of r to the host tier and returns the blocks moved, or
// -1 (nothing changed) when the host tier cannot take them all.
func (p *pagedPolicy) swapOut(r *reqState) int {
	q := p.state(r)
	need := 0
	for i := range q.seqs {
		st, err := p.m.State(p.seq(q, i))
		if err != nil {
			panic(err)
		}
		need += (st.Computed + p.bs - 1) / p.bs
	}
	if need > p.m.Stats().HostFree {
		return -1
	}
	for i := range q.seqs {
		var err error
		if p.copies, err = p.m.SwapOut(p.seq(q, i), p.copies[:0]); err != nil {
			panic(err)
		}
	}
	return need
}

// swapIn brings r's sequences back if the device has room for all of them above the
// watermark; it returns the blocks moved or -1.
func (p *pagedPolicy) swapIn(r *reqState) int {
	q := p.state(r)
	need := 0
	for i := range q.seqs {
		n, err := p.m.SwapInBlocks(p.seq(q, i))
		if err != nil {
			panic(err)
		}
		need += n
	}
	if need+p.m.WatermarkBlocks() > p.m.Stats().FreeBlocks {
		return -1
	}
	for i := range q.seqs {
		var err error
		if p.copies, err = p.m.SwapIn(p.seq(q, i), p.copies[:0]); err != nil {
			panic(err)
		}
	}
	return need
}
