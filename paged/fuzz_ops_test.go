package paged

import "math"

func (f *fuzzer) reserve() {
	s, _ := f.pickWhere(func(s *modelSeq) bool { return !s.swapped })
	if s == nil {
		return
	}
	m, bs := f.m, f.bs
	k, la := f.num(2*bs+2), f.num(3)
	if r := f.next(); r < 200 { // mostly valid sizes
		k = max(0, min(k, len(s.tokens)-s.computed))
		if !s.started {
			k = len(s.tokens) - r%(len(s.tokens)+1)
		}
	}
	f.note("reserve n, lookahead, id", k, la, int(s.id))
	before := f.digest()
	res, err := m.Reserve(s.id, k, la, nil)
	switch {
	case la < 0 || la > MaxSeqLen:
		f.expectErr(err, before, ErrInvalidArgument)
		return
	case s.swapped:
		f.expectErr(err, before, ErrSwapped)
		return
	case k < 0 || k > len(s.tokens)-s.computed || k+la == 0:
		f.expectErr(err, before, ErrInvalidArgument)
		return
	}
	if f.expectErr(err, before, nil, ErrNoSpace) {
		return
	}
	if !s.started {
		whole := res.Claimed - res.PartialTokens
		if whole%bs != 0 || res.PartialTokens < 0 || res.PartialTokens >= bs || res.Onloaded%bs != 0 || res.Onloaded > whole ||
			res.Claimed > len(s.tokens)-max(k, 1) || (m.cfg.DisablePrefixCaching && res.Claimed != 0) ||
			(!m.cfg.PartialBlockReuse && res.PartialTokens != 0) || (!m.tier.on && res.Onloaded != 0) {
			f.fatalf("claimed %+v of %d tokens reserving %d", res, len(s.tokens), k)
		}
		s.started, s.computed = true, res.Claimed
	} else if res.Claimed != 0 || res.Onloaded != 0 || res.PartialTokens != 0 {
		f.fatalf("claimed %+v after the start", res)
	}
	if res.Start != s.computed || res.N != k {
		f.fatalf("reservation %+v, computed %d", res, s.computed)
	}
	f.perform(res.Copies)
	s.reserved = max(s.reserved, s.computed+k+la)
	s.relAt = s.computed
	f.reserved(s, k, la)
	f.checkSeq(s)
}

func (f *fuzzer) admit() {
	s, _ := f.pickWhere(unstarted)
	if s == nil {
		return
	}
	maxNew, la := f.num(3*f.bs+2), f.num(3)
	if f.next() < 200 {
		maxNew, la = max(1, maxNew), max(0, min(la, 2))
	}
	f.admitSeq(s, maxNew, la)
}

// admitSeq admits s and checks the admission against the side-effect-free answers.
func (f *fuzzer) admitSeq(s *modelSeq, maxNew, la int) {
	m := f.m
	f.note("admit id, maxNew, lookahead", int(s.id), maxNew, la)
	tiers, _ := m.CachedPrefixTiers(s.id)
	cached := tiers.Tokens
	worst, werr := m.CanAdmit(len(s.tokens), la)
	before := f.digest()
	adm, err := m.Admit(s.id, maxNew, la, nil)
	switch {
	case maxNew < 1 || la < 0 || la > MaxSeqLen:
		f.expectErr(err, before, ErrInvalidArgument)
		f.expectErr(werr, 0, ErrInvalidArgument, nil)
		return
	case s.swapped:
		f.expectErr(err, before, ErrSwapped)
		return
	case s.started:
		f.expectErr(err, before, ErrInvalidArgument)
		return
	}
	f.expectErr(err, 0)
	f.expectErr(werr, 0)
	if adm.Hit.Tokens != adm.Cached || adm.Admission != AdmitNow && adm.Hit != tiers {
		f.fatalf("Admit %v found %+v, cached %d, CachedPrefixTiers %+v", adm.Admission, adm.Hit, adm.Cached, tiers)
	}
	if adm.Cached != cached && !(adm.Admission == AdmitNow && adm.Cached == cached-tiers.Partial) {
		f.fatalf("Admit found %d cached tokens, CachedPrefix %+v", adm.Cached, tiers)
	}
	cached = adm.Cached // less the partial block when only holding its source did not fit
	// CanAdmit assumes no hits: it can only be more pessimistic than Admit.
	if (worst == AdmitNow && adm.Admission != AdmitNow) || (adm.Admission == AdmitNever && worst != AdmitNever) {
		f.fatalf("Admit says %v, CanAdmit %v", adm.Admission, worst)
	}
	if adm.Admission != AdmitNow {
		if f.digest() != before {
			f.fatalf("Admit %v changed the manager", adm.Admission)
		}
		return
	}
	n := min(maxNew, len(s.tokens)-cached)
	if adm.Claimed != cached || adm.Start != cached || adm.N != n || adm.Onloaded != tiers.Host || adm.Hit.Host != adm.Onloaded ||
		adm.Hit.Partial != adm.PartialTokens ||
		adm.PartialTokens != cached-tiers.Device-tiers.Host || (!m.tier.on && len(adm.Copies) != min(1, adm.PartialTokens)) {
		f.fatalf("admitted %+v, want claimed/start %d and N %d, tiers %+v", adm, cached, n, tiers)
	}
	f.perform(adm.Copies)
	s.started, s.computed, s.reserved, s.relAt = true, cached, cached+n+la, cached
	f.reserved(s, n, la)
	f.checkSeq(s)
}

func (f *fuzzer) decode() {
	batch, ids, dup := f.subset(ready)
	la := f.num(2)
	if f.next() < 200 {
		la = max(0, min(la, 1))
	}
	f.decodeBatch(batch, ids, dup, la)
}

// decodeBatch runs one DecodeStep of ids (batch's, plus a repeated one if dup).
func (f *fuzzer) decodeBatch(batch []*modelSeq, ids []SeqID, dup bool, la int) {
	tks := make([]int32, len(ids))
	for i := range tks {
		tks[i] = int32(f.next() % 3)
	}
	var allowed []error
	if la < 0 || la > MaxSeqLen {
		allowed = append(allowed, ErrInvalidArgument)
	}
	for _, s := range batch {
		switch {
		case s.swapped:
			allowed = append(allowed, ErrSwapped)
		case !s.started || s.computed != len(s.tokens):
			allowed = append(allowed, ErrInvalidArgument)
		}
	}
	if dup {
		ids, tks = append(ids, ids[0]), append(tks, 0)
		allowed = append(allowed, ErrInvalidArgument)
	}
	f.note("decode lookahead, batch", la, len(ids))
	slots := make([]int64, len(ids))
	before := f.digest()
	copies, err := f.m.DecodeStep(ids, tks, la, slots, nil)
	if len(allowed) > 0 {
		f.expectErr(err, before, allowed...)
		return
	}
	if f.expectErr(err, before, nil, ErrNoSpace) {
		return
	}
	f.perform(copies)
	for g := 1; g < len(f.groups); g++ { // the other groups' slots of the new tokens
		gslots := make([]int64, len(ids))
		if err := f.m.DecodeSlotsGroup(ids, g, gslots); err != nil {
			f.fatalf("DecodeSlotsGroup(%d): %v", g, err)
		}
		for i, s := range batch {
			if want := f.slotsOfG(s, g, s.computed, s.computed+1); want[0] != gslots[i] {
				f.fatalf("group %d decode slot %d, mapping says %d", g, gslots[i], want[0])
			}
		}
	}
	for i, s := range batch {
		s.tokens = append(s.tokens, tks[i])
		s.reserved = max(s.reserved, s.computed+1+la)
		s.relAt = s.computed
		f.reserved(s, 1, la)
		if want := f.slotsOfG(s, 0, s.computed, s.computed+1); want[0] != slots[i] {
			f.fatalf("decode slot %d, mapping says %d", slots[i], want[0])
		}
		f.checkSeq(s)
	}
}

func (f *fuzzer) swapOut() {
	s, _ := f.pickWhere(onDevice)
	if s == nil {
		return
	}
	m, bs := f.m, f.bs
	f.note("swap out", int(s.id))
	var table []int32
	if !s.swapped {
		f.checkSeq(s)
		table, _ = m.BlockTable(s.id, nil)
	}
	before := f.digest()
	copies, err := m.SwapOut(s.id, nil)
	switch {
	case s.swapped:
		f.expectErr(err, before, ErrSwapped)
	case m.host == nil:
		f.expectErr(err, before, ErrNoHostTier)
	case f.expectErr(err, before, nil, ErrNoSpace):
	default:
		swapCopies := copies[len(copies)-min(len(copies), (s.computed+bs-1)/bs):] // after queued write-throughs
		if len(swapCopies) != (s.computed+bs-1)/bs {
			f.fatalf("%d copies for %d computed tokens", len(copies), s.computed)
		}
		for j, c := range swapCopies { // block j of the table, in order
			if c.Src != table[j] || c.Dir != DeviceToHost {
				f.fatalf("copy %d %+v, table has %d", j, c, table[j])
			}
		}
		f.perform(copies)
		s.swapped, s.reserved = true, s.computed
		f.checkSeq(s)
	}
}

func (f *fuzzer) swapIn() {
	s, _ := f.pickWhere(swapped)
	if s == nil {
		return
	}
	m := f.m
	f.note("swap in", int(s.id))
	need, err := m.SwapInBlocks(s.id)
	f.expectErr(err, 0)
	if want := 0; !s.swapped && need != want {
		f.fatalf("SwapInBlocks %d for a sequence on the device", need)
	}
	verdict, verr := m.CanSwapIn(s.id, 0)
	if !s.swapped {
		f.expectErr(verr, 0, ErrInvalidArgument)
	} else if f.expectErr(verr, 0); verdict == AdmitNow && need > m.Stats().FreeBlocks {
		f.fatalf("CanSwapIn now with %d free blocks for %d", m.Stats().FreeBlocks, need)
	}
	before := f.digest()
	copies, err := m.SwapIn(s.id, nil)
	switch {
	case !s.swapped:
		f.expectErr(err, before, ErrInvalidArgument)
	case f.expectErr(err, before, nil, ErrNoSpace):
		if need <= m.Stats().FreeBlocks {
			f.fatalf("SwapIn refused with %d free blocks for %d", m.Stats().FreeBlocks, need)
		}
	default:
		swapIns := 0
		for _, c := range copies {
			if c.Dir == HostToDevice {
				swapIns++
			}
		}
		if swapIns != need || (!m.tier.on && len(copies) != need) {
			f.fatalf("%d copies (%d swap-ins), SwapInBlocks said %d", len(copies), swapIns, need)
		}
		f.perform(copies)
		s.swapped = false
		f.checkSeq(s)
	}
}

// lookups asks the side-effect-free questions and calls every method on a dead id.
func (f *fuzzer) lookups() {
	m := f.m
	f.note("lookup")
	before := f.digest()
	if s, _ := f.pick(); s != nil {
		c, err := m.CachedPrefix(s.id)
		f.expectErr(err, 0)
		if c >= len(s.tokens) {
			f.fatalf("CachedPrefix %d of %d tokens", c, len(s.tokens))
		}
		c2, err := m.LookupPrompt(s.tokens, s.opts)
		if outside(s.opts.MM, len(s.tokens)) { // rolled back into an item
			f.expectErr(err, 0, ErrInvalidArgument)
		} else if f.expectErr(err, 0); c2 != c {
			f.fatalf("LookupPrompt %d, CachedPrefix %d", c2, c)
		}
		// The same lookup over a chain of the manager's own scheme (a router's path).
		ch := m.HashScheme().NewChain(s.opts.extras())
		ch.Extend(s.tokens)
		hit, err := m.LookupChainTiers(&ch, s.tokens)
		if outside(s.opts.MM, len(s.tokens)) {
			f.expectErr(err, 0, ErrInvalidArgument)
		} else if f.expectErr(err, 0); hit.Tokens != c {
			f.fatalf("LookupChainTiers %+v, CachedPrefix %d", hit, c)
		}
		if c%f.bs != 0 && !m.cfg.PartialBlockReuse {
			f.fatalf("CachedPrefix %d without partial reuse", c)
		}
		if m.hybrid {
			if want := m.oracleHit(s.id); c != want {
				f.fatalf("CachedPrefix %d, the longest length valid for every group is %d", c, want)
			}
		}
	}
	p, la := f.num(40), f.num(3)
	_, err := m.CanAdmit(p, la)
	if p < 1 || p > MaxSeqLen || la < 0 || la > MaxSeqLen {
		f.expectErr(err, 0, ErrInvalidArgument)
	} else {
		f.expectErr(err, 0)
	}
	if len(f.dead) > 0 {
		d := f.dead[f.next()%len(f.dead)]
		f.deadCalls([]SeqID{d, 0, math.MaxUint64, d + 1<<32}[f.next()%4])
	}
	if f.digest() != before {
		f.fatalf("lookups changed the manager")
	}
}
