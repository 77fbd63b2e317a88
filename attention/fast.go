package attention

import (
	"math"
	"unsafe"
)

// The assembly path's half of a worker (path "avx2", see path.go). The task set-up
// (rows, their ranges, heads) and the chunking are shared with the portable path;
// what differs is how a chunk is computed:
//
//   - query rows are taken 4 at a time (a group; a head's last group is padded with
//     zero rows), copied once per task into q4 with the softmax scale folded in and,
//     for bfloat16, permuted like the kernel widens the stored elements (even
//     elements, then odd, per 16);
//   - a K segment (one block's tokens of one KV head) is scored straight from the
//     arena into scores laid out [token][4], two tokens × 4 rows per pass with a
//     transposed reduction; the softmax runs over the chunk's scores with vector
//     max and exp; a V segment is accumulated straight from the arena with each
//     16-element slice of the 4 rows kept in registers over the segment's tokens;
//   - every kernel call prefetches, spread through its loop, a segment that a later
//     call of the same task will read (about pfAheadBytes ahead).
type fastScratch struct {
	q4, acc4 []float32 // [group][4][d]
	m4, l4   []float32 // [group×4]: running max and sum per row
	s4       []float32 // [group][s4Stride]: the chunk's scores, then weights
	gRow     []int     // group g holds rows [gRow[g], gRow[g]+gN[g])
	gN       []int
	hGroup   []int // head index hi owns groups [hGroup[hi], hGroup[hi+1])
	next     []seg // the following chunk's segments (prefetch targets)
	pf       []prefetch
	// per task: post multiplies scores, wscale the weights (FP8 widening factor)
	post, wscale float32
	perm         bool
}

// s4Stride is a group's score row: a chunk plus the padding token of an odd chunk,
// rounded so groups do not alias in L1.
const s4Stride = (chunkTokens + 4) * 4

// pfAheadBytes is how far ahead of the data in use the kernels prefetch: in effect
// the next segment (two for FP8 blocks of 16). Measured in process CPU time per
// decode (8 sequences × 4K tokens, one worker, interleaved): no prefetch cost 1.6–1.9×
// the time of any distance up to 8 KiB, which were all alike; 16 KiB was 5–20 %
// slower, 64 KiB more.
var pfAheadBytes = 4 << 10

// kvView is one segment of an arena: exactly one field is set.
type kvView struct {
	f32 []float32
	u16 []uint16
	u8  []uint8
}

// elems returns the number of elements of type dt the view holds: the length of the
// field of dt's width (0 when that field is not the one set).
func (v kvView) elems(dt DType) int {
	switch dt.Size() {
	case 4:
		return len(v.f32)
	case 2:
		return len(v.u16)
	case 1:
		return len(v.u8)
	}
	return 0
}

func (v kvView) prefetch() prefetch {
	switch {
	case v.f32 != nil:
		return prefetch{unsafe.Pointer(&v.f32[0]), (len(v.f32)*4 + 63) / 64}
	case v.u16 != nil:
		return prefetch{unsafe.Pointer(&v.u16[0]), (len(v.u16)*2 + 63) / 64}
	}
	return prefetch{unsafe.Pointer(&v.u8[0]), (len(v.u8) + 63) / 64}
}

// prefetch is a region to prefetch (lines of 64 bytes); the zero value is none.
type prefetch struct {
	p     unsafe.Pointer
	lines int
}

func (w *worker) ensureFast(c Config, rows, heads int) {
	fs := &w.fs
	groups := (rows+3)/4 + heads
	d := c.HeadDim
	fs.q4 = grow(fs.q4, groups*4*d)
	fs.acc4 = grow(fs.acc4, groups*4*d)
	fs.m4 = grow(fs.m4, groups*4)
	fs.l4 = grow(fs.l4, groups*4)
	fs.s4 = grow(fs.s4, groups*s4Stride)
}

// view returns the K (or V) elements of tokens [s.first, s.last] of block s.id, head h.
func (w *worker) view(key bool, s seg, h int) kvView {
	c, l := w.k.c, w.k.layer
	d := c.cfg.HeadDim
	off := int(s.id)*c.blockLen + h*c.rowLen + s.first*d
	n := (s.last - s.first + 1) * d
	switch c.cfg.DType.Size() {
	case 4:
		a := c.v32[l]
		if key {
			a = c.k32[l]
		}
		return kvView{f32: a[off : off+n]}
	case 2:
		a := c.v16[l]
		if key {
			a = c.k16[l]
		}
		return kvView{u16: a[off : off+n]}
	}
	a := c.v8[l]
	if key {
		a = c.k8[l]
	}
	return kvView{u8: a[off : off+n]}
}

// doFast runs a task whose rows are set up (see worker.do) on the assembly path.
func (w *worker) doFast(t *task, table []int32) {
	k := w.k
	d, dt := k.c.cfg.HeadDim, k.c.cfg.DType
	fs := &w.fs
	fs.gRow, fs.gN, fs.hGroup = fs.gRow[:0], fs.gN[:0], fs.hGroup[:0]
	for hi := range w.heads {
		fs.hGroup = append(fs.hGroup, len(fs.gRow))
		for r := w.rowStart[hi]; r < w.rowStart[hi+1]; r += 4 {
			fs.gRow = append(fs.gRow, r)
			fs.gN = append(fs.gN, min(4, w.rowStart[hi+1]-r))
		}
	}
	fs.hGroup = append(fs.hGroup, len(fs.gRow))
	qs := k.scale
	fs.post, fs.wscale = 1, 1
	if dt == FP8E4M3 {
		// The kernels widen FP8 through IEEE half to element × 2^-8: the 2^8 goes
		// into q and into the weights (exact powers of two).
		qs *= 0x1p8
		fs.wscale = 0x1p8
	}
	fs.perm = dt == BFloat16
	ninf := float32(math.Inf(-1))
	for g := range fs.gRow {
		for lane := range 4 {
			i := g*4 + lane
			fs.m4[i], fs.l4[i] = ninf, 0
			dst := fs.q4[i*d : (i+1)*d]
			if lane >= fs.gN[g] {
				clear(dst)
				continue
			}
			src := w.q[fs.gRow[g]+lane][:d]
			if !fs.perm {
				for x := range dst {
					dst[x] = src[x] * qs
				}
				continue
			}
			for b := 0; b < d; b += 16 {
				for p := range 8 {
					dst[b+p] = src[b+2*p] * qs
					dst[b+8+p] = src[b+2*p+1] * qs
				}
			}
		}
	}
	clear(fs.acc4[:len(fs.gRow)*4*d])
	it := w.chunker(table, t.b0, t.b1)
	cur, tok := it.next(w.segs[:0])
	next := fs.next[:0]
	for tok > 0 {
		var ntok int
		next, ntok = it.next(next[:0])
		w.chunkFast(cur, tok, next)
		cur, next, tok = next, cur, ntok
	}
	w.segs, fs.next = cur, next
	w.finishFast(t)
}

// chunkFast computes one chunk of tok tokens (segs) for every group; next is the
// following chunk (for prefetching).
func (w *worker) chunkFast(segs []seg, tok int, next []seg) {
	k := w.k
	d, dt := k.c.cfg.HeadDim, k.c.cfg.DType
	fs := &w.fs
	// The calls' order: K segments head by head, then V segments likewise; then the
	// next chunk's first K segments.
	fs.pf = fs.pf[:0]
	for _, key := range [2]bool{true, false} {
		for _, h := range w.heads {
			for _, s := range segs {
				fs.pf = append(fs.pf, w.view(key, s, h).prefetch())
			}
		}
	}
	segBytes := max(1, tok/len(segs)*d*dt.Size())
	dist := max(1, pfAheadBytes/segBytes)
	for i := 0; i < dist && i < len(next); i++ {
		fs.pf = append(fs.pf, w.view(true, next[i], w.heads[0]).prefetch())
	}
	pfAt := func(i int) prefetch {
		if i < len(fs.pf) {
			return fs.pf[i]
		}
		return prefetch{}
	}
	call := 0
	for hi, h := range w.heads {
		g0, g1 := fs.hGroup[hi], fs.hGroup[hi+1]
		for _, s := range segs {
			n := s.last - s.first + 1
			kv := w.view(true, s, h)
			pf := pfAt(call + dist)
			for g := g0; g < g1; g++ {
				asmScore(dt, fs.q4[g*4*d:(g+1)*4*d], kv, n, d, fs.s4[g*s4Stride+s.off*4:(g+1)*s4Stride], pf, fs.post)
				pf = prefetch{}
			}
			call++
		}
		for g := g0; g < g1; g++ {
			w.maskFast(g, segs, tok)
		}
	}
	te := tok + tok&1
	ninf := float32(math.Inf(-1))
	for g := range fs.gRow {
		s := fs.s4[g*s4Stride : g*s4Stride+4*te]
		mx := asmMax4(s, te)
		var msub [4]float32
		for lane := range 4 {
			i := g*4 + lane
			nm := max(fs.m4[i], mx[lane])
			if nm > fs.m4[i] && fs.l4[i] != 0 {
				f := float32(math.Exp(float64(fs.m4[i] - nm)))
				fs.l4[i] *= f
				scaleGo(fs.acc4[i*d:(i+1)*d], f)
			}
			fs.m4[i] = nm
			if nm != ninf { // a row that has seen nothing yet keeps weight 0
				msub[lane] = nm
			}
		}
		sums := asmExp4(s, te, &msub, fs.wscale)
		for lane := range 4 {
			fs.l4[g*4+lane] += sums[lane]
		}
	}
	for hi, h := range w.heads {
		g0, g1 := fs.hGroup[hi], fs.hGroup[hi+1]
		for _, s := range segs {
			n := s.last - s.first + 1
			vv := w.view(false, s, h)
			pf := pfAt(call + dist)
			for g := g0; g < g1; g++ {
				asmAccum(dt, fs.acc4[g*4*d:(g+1)*4*d], fs.s4[g*s4Stride+s.off*4:(g+1)*s4Stride], vv, n, d, pf)
				pf = prefetch{}
			}
			call++
		}
	}
}

// maskFast sets −Inf where a row of group g does not attend to a token of the chunk,
// and on the padding token of an odd chunk.
func (w *worker) maskFast(g int, segs []seg, tok int) {
	fs := &w.fs
	s4 := fs.s4[g*s4Stride : (g+1)*s4Stride]
	ninf := float32(math.Inf(-1))
	if tok&1 == 1 {
		for lane := range 4 {
			s4[tok*4+lane] = ninf
		}
	}
	first, last := segs[0], segs[len(segs)-1]
	if w.allSee(fs.gRow[g], fs.gRow[g]+fs.gN[g], first.p0+first.first) &&
		w.allSee(fs.gRow[g], fs.gRow[g]+fs.gN[g], last.p0+last.last) {
		return
	}
	for lane := range fs.gN[g] {
		r := fs.gRow[g] + lane
		for _, s := range segs {
			for t := s.first; t <= s.last; t++ {
				if pos := s.p0 + t; pos < w.lo[r] || pos > w.hi[r] {
					s4[(s.off+t-s.first)*4+lane] = ninf
				}
			}
		}
	}
}

// finishFast writes the task's rows like finish does, undoing the permutation.
func (w *worker) finishFast(t *task) {
	k := w.k
	d, g, qh := k.c.cfg.HeadDim, k.group, k.qh
	fs := &w.fs
	for gi := range fs.gRow {
		for lane := range fs.gN[gi] {
			r, i := fs.gRow[gi]+lane, gi*4+lane
			var dst []float32
			inv := 1 / fs.l4[i]
			switch {
			case !k.prefill && k.parts > 1:
				base := (t.seq*k.parts+t.part)*qh + r
				k.partM[base], k.partL[base] = fs.m4[i], fs.l4[i]
				dst, inv = k.partAcc[base*d:(base+1)*d], 1
			case !k.prefill:
				dst = k.out[(t.seq*qh+r)*d:][:d]
			default:
				tok, j := t.q0+r/g, r%g
				dst = k.out[(tok*qh+t.head*g+j)*d:][:d]
			}
			acc := fs.acc4[i*d : (i+1)*d]
			if !fs.perm {
				for x := range dst {
					dst[x] = acc[x] * inv
				}
				continue
			}
			for b := 0; b < d; b += 16 {
				for p := range 8 {
					dst[b+2*p] = acc[b+p] * inv
					dst[b+2*p+1] = acc[b+8+p] * inv
				}
			}
		}
	}
}
