package paged

import (
	"slices"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// deadCalls calls every method that takes a SeqID with one that is not live (or,
// for d + 1<<32, one whose slot may be live under another generation).
func (f *fuzzer) deadCalls(id SeqID) {
	for _, s := range f.seqs {
		if s.id == id {
			return
		}
	}
	m := f.m
	errs := []error{}
	_, err := m.Reserve(id, 1, 0, nil)
	errs = append(errs, err)
	_, err = m.Admit(id, 1, 0, nil)
	errs = append(errs, err, m.Free(id), m.Append(id, 1), m.Rollback(id, 0), m.MarkComputed(id, 0),
		m.MarkComputedBatch([]SeqID{id}, 0))
	_, err = m.Fork(id)
	errs = append(errs, err)
	_, err = m.DecodeStep([]SeqID{id}, []int32{1}, 0, make([]int64, 1), nil)
	errs = append(errs, err)
	_, err = m.CachedPrefix(id)
	errs = append(errs, err)
	_, err = m.State(id)
	errs = append(errs, err)
	_, err = m.SeqStates([]SeqID{id}, nil)
	errs = append(errs, err)
	_, err = m.BlockTable(id, nil)
	errs = append(errs, err)
	_, err = m.BlockTables([]SeqID{id}, nil)
	errs = append(errs, err)
	_, err = m.SlotMapping(id, 0, 0, nil)
	errs = append(errs, err)
	_, err = m.SwapOut(id, nil)
	errs = append(errs, err)
	_, err = m.SwapIn(id, nil)
	errs = append(errs, err)
	_, err = m.SwapInBlocks(id)
	errs = append(errs, err)
	_, err = m.CanSwapIn(id, 0)
	errs = append(errs, err)
	_, err = m.CachedPrefixTiers(id)
	errs = append(errs, err)
	_, err = m.BlockTableGroup(id, 0, nil)
	errs = append(errs, err)
	_, err = m.BlockTablesGroup([]SeqID{id}, len(f.groups)-1, nil)
	errs = append(errs, err)
	_, err = m.SlotMappingGroup(id, len(f.groups)-1, 0, 0, nil)
	errs = append(errs, err)
	errs = append(errs, m.DecodeSlotsGroup([]SeqID{id}, 0, make([]int64, 1)))
	for i, err := range errs {
		f.note("call i on dead id", i, int(id))
		f.expectErr(err, 0, ErrUnknownSequence)
	}
}

// reads checks the batched reads against the per-sequence ones and probes block ids
// and slot ranges with full-range values.
func (f *fuzzer) reads() {
	m := f.m
	f.note("reads")
	before := f.digest()
	batch, ids, _ := f.subset(onDevice)
	states, err := m.SeqStates(ids, nil)
	f.expectErr(err, 0)
	var onDevice []SeqID
	for i, s := range batch {
		if st, _ := m.State(s.id); st != states[i] {
			f.fatalf("SeqStates %+v, State %+v", states[i], st)
		}
		if !s.swapped {
			onDevice = append(onDevice, s.id)
		}
	}
	tables, err := m.BlockTables(onDevice, nil)
	f.expectErr(err, 0)
	for i, id := range onDevice {
		if tb, _ := m.BlockTable(id, nil); !slices.Equal(tb, tables[i]) {
			f.fatalf("BlockTables %v, BlockTable %v", tables[i], tb)
		}
	}
	if len(onDevice) < len(ids) {
		_, err = m.BlockTables(ids, nil)
		f.expectErr(err, 0, ErrSwapped)
	}
	if s, _ := f.pick(); s != nil {
		lo, hi, g := f.num(s.reserved+2), f.num(s.reserved+2), f.num(len(f.groups)+1)
		_, err := m.SlotMappingGroup(s.id, g, lo, hi, nil)
		switch {
		case g < 0 || g >= len(f.groups):
			f.expectErr(err, 0, ErrInvalidArgument)
		case s.swapped:
			f.expectErr(err, 0, ErrSwapped)
		case lo < 0 || lo > hi || hi > s.reserved || lo < hi && lo < f.liveFrom(s, g)*f.bs:
			f.expectErr(err, 0, ErrInvalidArgument)
		default:
			f.expectErr(err, 0)
		}
		if g >= 0 && g < len(f.groups) && !s.swapped {
			tb, err := m.BlockTableGroup(s.id, g, nil)
			f.expectErr(err, 0)
			tbs, err := m.BlockTablesGroup([]SeqID{s.id}, g, nil)
			f.expectErr(err, 0)
			if !slices.Equal(tb, tbs[0]) {
				f.fatalf("BlockTablesGroup %v, BlockTableGroup %v", tbs[0], tb)
			}
		}
	}
	id := int32(f.num(f.m.cfg.NumBlocks + 2))
	refs, cached := m.BlockInfo(id)
	if (id < 0 || int(id) >= f.m.cfg.NumBlocks) && (refs != 0 || cached) {
		f.fatalf("BlockInfo(%d) = %d, %v", id, refs, cached)
	}
	st := m.Stats()
	if q := m.FreeQueue(nil); len(q) != st.FreeBlocks || st.FreeBlocks+st.UsedBlocks != st.NumBlocks {
		f.fatalf("free queue of %d, stats %+v", len(q), st)
	}
	if m.WatermarkBlocks() > st.NumBlocks || m.Config().NumBlocks != st.NumBlocks {
		f.fatalf("watermark %d, config %+v", m.WatermarkBlocks(), m.Config())
	}
	if m.NumGroups() != len(f.groups) || m.HashScheme().BlockSize() != f.bs {
		f.fatalf("NumGroups %d of %d, scheme block size %d of %d", m.NumGroups(), len(f.groups), m.HashScheme().BlockSize(), f.bs)
	}
	f.checkCachedBlocks()
	if f.digest() != before {
		f.fatalf("reads changed the manager")
	}
}

// checkCachedBlocks compares CachedBlocks with a scan of both pools: every cached
// block once, device tier first, each tier in id order.
func (f *fuzzer) checkCachedBlocks() {
	var want []CachedBlock
	for _, t := range []struct {
		medium Medium
		p      *blockpool.Pool
	}{{MediumGPU, f.m.Pool()}, {MediumCPU, f.m.host}} {
		if t.p == nil {
			continue
		}
		for id := range int32(t.p.NumBlocks()) {
			if ck, _, ok := t.p.CachedKey(id); ok {
				want = append(want, CachedBlock{Medium: t.medium, ID: id, Hash: prefix.Hash(ck.Hash), Group: int(ck.Group)})
			}
		}
	}
	if got := f.m.CachedBlocks(nil); !slices.Equal(got, want) {
		f.fatalf("CachedBlocks %v, pools %v", got, want)
	}
}

// outside reports whether a multimodal item reaches past n tokens.
func outside(mm []prefix.MMItem, n int) bool {
	for _, it := range mm {
		if it.Offset+it.Length > n {
			return true
		}
	}
	return false
}
