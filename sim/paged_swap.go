package sim

import "github.com/pagedkv/pagedkv/paged"

// swapOut moves every sequence of r to the host tier and returns the blocks moved, or
// -1 (nothing changed) when the swap space cannot take them all. Each sequence's
// blocks holding computed tokens are copied, shared ones included (paged.SwapOut).
// With a host prefix cache in the same pool, swapped-out sequences may own at most
// the swap space's blocks (the rest stays the cache's); paged evicts cached host
// copies to make room.
func (p *pagedPolicy) swapOut(r *reqState) int {
	need := 0
	for _, st := range p.states(r) {
		need += (st.Computed + p.bs - 1) / p.bs
	}
	st := p.m.Stats()
	if owned := st.HostBlocks - st.HostFree; need > st.HostFree || need > p.swap-owned {
		return -1
	}
	q := p.state(r)
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
	need := 0
	for _, st := range p.states(r) {
		need += st.Blocks // a swapped sequence's table: its host blocks, all copied back
	}
	if need+p.m.WatermarkBlocks() > p.m.Stats().FreeBlocks {
		return -1
	}
	q := p.state(r)
	for i := range q.seqs {
		var err error
		if p.copies, err = p.m.SwapIn(p.seq(q, i), p.copies[:0]); err != nil {
			panic(err)
		}
	}
	return need
}

// states returns the states of r's sequences (one SeqStates call), in a buffer
// reused by the next call.
func (p *pagedPolicy) states(r *reqState) []paged.SeqState {
	q := p.state(r)
	p.ids = p.ids[:0]
	for i := range q.seqs {
		p.ids = append(p.ids, p.seq(q, i))
	}
	var err error
	if p.stBuf, err = p.m.SeqStates(p.ids, p.stBuf[:0]); err != nil {
		panic(err)
	}
	return p.stBuf
}
