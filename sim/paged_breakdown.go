package sim

import (
	"fmt"

	"github.com/pagedkv/pagedkv/paged"
)

// breakdown is the paged policy's scratch for memory sampling, reused across
// iterations.
type breakdown struct {
	ids    []paged.SeqID    // the running requests' sequences
	owner  []*reqState      // owner[i] is the request of ids[i]
	states []paged.SeqState // their states
	// stamp[b] == n marks block b as seen in the current sample (frontier blocks in
	// sample, every block in sampleByTables); indexed by block id.
	stamp    []int
	n        int // the current sample's stamp
	tables   [][]int32
	tok, res []int
	distinct []int32
}

func newBreakdown(numBlocks int) breakdown {
	return breakdown{stamp: make([]int, numBlocks)}
}

// sample classifies the slots of every block the running requests reference. A
// block shared by several sequences counts once; its slots holding computed KV are
// token states, those the request will fill before it ends are reserved, the rest
// of the block is internal fragmentation.
//
// It asks the manager for every running sequence's state in one call and works in
// O(sequences), not O(blocks), using what SeqState guarantees: a sequence's blocks
// before its Frontier hold only computed tokens (full blocks: all token states,
// however many sequences share them); the Frontier block holds Computed mod
// BlockSize of them; the blocks after it hold none and are private. A frontier block
// is shared only by forks of one request, which have the same length and the same
// final length, so counting it once by id is exact. Every block the running requests
// reference is one of these, and no other sequence holds device blocks while the
// engine samples (waiting requests hold none, swapped ones hold host blocks), so
// the full blocks are Stats.UsedBlocks less the frontier and trailing ones.
// sampleByTables, the O(blocks) walk over the block tables it replaces, checks this
// in tests.
func (p *pagedPolicy) sample(running []*reqState, s *memSample) {
	if p.groups > 1 {
		p.sampleGroups(running, s)
		return
	}
	bd := &p.bd
	p.collect(running)
	var err error
	if bd.states, err = p.m.SeqStates(bd.ids, bd.states[:0]); err != nil {
		panic(err)
	}
	st := p.m.Stats()
	s.capacity = st.NumBlocks * p.bs
	s.usedBlocks = st.UsedBlocks
	bd.n++
	bs, frontiers, trailing := p.bs, 0, 0
	for i, q := range bd.states {
		final := bd.owner[i].final
		s.logical += q.Blocks
		if q.Frontier < 0 { // every block is full
			continue
		}
		j := q.Computed / bs // the frontier's index
		if bd.stamp[q.Frontier] != bd.n {
			bd.stamp[q.Frontier] = bd.n
			frontiers++
			tok := q.Computed - j*bs
			f := max(tok, min(bs, max(0, final-j*bs)))
			s.token += tok
			s.reserved += f - tok
			s.internal += bs - f
		}
		if k := q.Blocks - j - 1; k > 0 { // private blocks after the frontier
			trailing += k
			r := min(q.Blocks*bs, final) - min((j+1)*bs, final) // slots the request will fill
			s.reserved += max(0, r)
			s.internal += k*bs - max(0, r)
		}
	}
	full := st.UsedBlocks - frontiers - trailing
	s.token += full * bs
	s.physical += st.UsedBlocks
}

// collect lists the running requests' sequences and their owners.
func (p *pagedPolicy) collect(running []*reqState) {
	bd := &p.bd
	bd.ids, bd.owner = bd.ids[:0], bd.owner[:0]
	for _, r := range running {
		q := p.state(r)
		for i := range q.seqs {
			bd.ids = append(bd.ids, p.seq(q, i))
			bd.owner = append(bd.owner, r)
		}
	}
}

// sampleByTables is sample's reference: it reads every running sequence's block
// table in every KV-cache group (one BlockTablesGroup call per group; NullBlock
// entries, released by windows, skipped) and classifies each distinct block by the
// most any of its holders has computed (token states) or will fill (reserved).
// O(blocks).
func (p *pagedPolicy) sampleByTables(running []*reqState, s *memSample) {
	bd := &p.bd
	p.collect(running)
	var err error
	if bd.states, err = p.m.SeqStates(bd.ids, bd.states[:0]); err != nil {
		panic(err)
	}
	if len(bd.tok) < len(bd.stamp) {
		bd.tok, bd.res = make([]int, len(bd.stamp)), make([]int, len(bd.stamp))
	}
	st := p.m.Stats()
	s.capacity = st.NumBlocks * p.bs
	s.usedBlocks = st.UsedBlocks
	bd.n++
	n := bd.n
	bd.distinct = bd.distinct[:0]
	for grp := range p.groups {
		if bd.tables, err = p.m.BlockTablesGroup(bd.ids, grp, bd.tables); err != nil {
			panic(err)
		}
		for i, tbl := range bd.tables {
			computed, final := bd.states[i].Computed, bd.owner[i].final
			for j, b := range tbl {
				if b == paged.NullBlock {
					continue
				}
				s.logical++
				if bd.stamp[b] != n {
					bd.stamp[b], bd.tok[b], bd.res[b] = n, 0, 0
					bd.distinct = append(bd.distinct, b)
				}
				bd.tok[b] = max(bd.tok[b], min(p.bs, max(0, computed-j*p.bs)))
				bd.res[b] = max(bd.res[b], min(p.bs, max(0, final-j*p.bs)))
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

// verifySample checks s, made by sample, against sampleByTables (tests).
func (p *pagedPolicy) verifySample(running []*reqState, s *memSample) error {
	var ref memSample
	p.sampleByTables(running, &ref)
	if ref != *s {
		return fmt.Errorf("sim: paged: memory sample %+v, block tables say %+v", *s, ref)
	}
	return nil
}
