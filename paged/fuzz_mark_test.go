package paged

// subset picks up to 8 sequences by a bitmask — three times in four over those for
// which ok holds, otherwise over all — and sometimes repeats one.
func (f *fuzzer) subset(ok func(*modelSeq) bool) (batch []*modelSeq, ids []SeqID, dup bool) {
	from := f.seqs
	if f.next()%4 != 0 {
		from = nil
		for _, s := range f.seqs {
			if ok(s) {
				from = append(from, s)
			}
		}
	}
	mask := f.next()
	for i, s := range from {
		if i < 8 && mask&(1<<i) != 0 {
			batch = append(batch, s)
			ids = append(ids, s.id)
		}
	}
	return batch, ids, len(ids) > 0 && f.next()%8 == 0
}

func (f *fuzzer) mark(s *modelSeq, k int) {
	before := f.digest()
	if !s.swapped && k >= 0 && k <= s.reserved-s.computed && k <= len(s.tokens)-s.computed {
		f.write(s, s.computed, s.computed+k) // the engine writes, then reports
	}
	err := f.m.MarkComputed(s.id, k)
	switch {
	case s.swapped:
		f.expectErr(err, before, ErrSwapped)
	case k < 0 || k > s.reserved-s.computed || k > len(s.tokens)-s.computed:
		f.expectErr(err, before, ErrInvalidArgument)
	default:
		f.expectErr(err, 0)
		s.computed += k
		f.checkSeq(s)
	}
}

func (f *fuzzer) markIDs(batch []*modelSeq, ids []SeqID, k int, dup bool) {
	var allowed []error
	for _, s := range batch {
		switch {
		case s.swapped:
			allowed = append(allowed, ErrSwapped)
		case k < 0 || k > s.reserved-s.computed || k > len(s.tokens)-s.computed:
			allowed = append(allowed, ErrInvalidArgument)
		}
	}
	if dup {
		allowed = append(allowed, ErrInvalidArgument)
	}
	if len(allowed) > 0 {
		before := f.digest()
		err := f.m.MarkComputedBatch(ids, k)
		f.expectErr(err, before, allowed...)
		return
	}
	for _, s := range batch {
		f.write(s, s.computed, s.computed+k)
	}
	err := f.m.MarkComputedBatch(ids, k)
	f.expectErr(err, 0)
	for _, s := range batch {
		s.computed += k
		f.checkSeq(s)
	}
}
