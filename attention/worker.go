package attention

import "math"

// worker owns the scratch of one goroutine. A task is a set of query rows over a
// range of context blocks: decode tasks cover every KV head of one sequence (so a
// block's heads, adjacent in memory, are read in one sweep), prefill tasks one KV head
// for a tile of query tokens.
type worker struct {
	k *Kernel
	// query rows of the current task
	rows   int
	q      [][]float32 // row r's query vector
	hi, lo []int       // row r attends to key positions [lo[r], hi[r]]
	m, l   []float32   // running max and sum per row
	acc    []float32   // rows × d weighted values
	// rows of heads[i] are [rowStart[i], rowStart[i+1])
	heads    []int
	rowStart []int
	scores   []float32 // rows × stride
	stride   int
	kf, vf   []float32 // the chunk's segments widened to float32
	segs     []seg     // the current chunk's block parts
	ksegs    [][]float32
	vsegs    [][]float32
	fs       fastScratch // the assembly path's state (fast.go)
}

// chunkTokens is how many context tokens are scored before one softmax update:
// several small blocks are processed together so per-update costs are amortised.
const chunkTokens = 128

// seg is the part of one block a chunk uses: tokens [first, last] of block id,
// whose scores start at column off.
type seg struct {
	id          int32
	p0          int // position of the block's token 0
	first, last int
	off         int
}

func (w *worker) ensure(cache *Cache, rows int) {
	c := cache.cfg
	d := c.HeadDim
	if len(w.q) < rows {
		w.q = make([][]float32, rows)
		w.hi, w.lo = make([]int, rows), make([]int, rows)
		w.m, w.l = make([]float32, rows), make([]float32, rows)
	}
	w.stride = chunkTokens + 16 // padded: a power-of-two row stride would alias in L1
	w.acc = grow(w.acc, len(w.q)*d)
	w.scores = grow(w.scores, len(w.q)*w.stride)
	w.kf = grow(w.kf, (chunkTokens+16)*d) // padded like the scores
	w.vf = grow(w.vf, (chunkTokens+16)*d)
	if w.k.fast {
		w.ensureFast(c, len(w.q), cache.heads)
	}
	if cap(w.heads) < cache.heads {
		w.heads = make([]int, 0, cache.heads)
		w.rowStart = make([]int, 0, cache.heads+1)
	}
}

func (w *worker) loop(wake chan struct{}) {
	for range wake {
		k := w.k
		for {
			i := int(k.next.Add(1) - 1)
			if i >= len(k.tasks) {
				break
			}
			w.do(&k.tasks[i])
		}
		k.wg.Done()
	}
}

func (w *worker) do(t *task) {
	k := w.k
	c := k.c
	d, g := c.cfg.HeadDim, k.group
	var table []int32
	w.heads, w.rowStart = w.heads[:0], w.rowStart[:0]
	if !k.prefill {
		table = k.tables[t.seq]
		ctx := k.ctx[t.seq]
		lo := k.p.firstKey(ctx - 1)
		w.rows = k.qh
		for r := range w.rows {
			w.q[r] = k.q[(t.seq*k.qh+r)*d:][:d]
			w.hi[r], w.lo[r] = ctx-1, lo
		}
		for h := range c.heads {
			w.heads = append(w.heads, h)
			w.rowStart = append(w.rowStart, h*g)
		}
		w.rowStart = append(w.rowStart, w.rows)
	} else {
		table = k.table
		w.rows = (t.q1 - t.q0) * g
		r := 0
		for i := t.q0; i < t.q1; i++ {
			pos := k.start + i
			for j := range g {
				w.q[r] = k.q[((i*k.qh)+t.head*g+j)*d:][:d]
				w.hi[r], w.lo[r] = pos, k.p.firstKey(pos)
				r++
			}
		}
		w.heads = append(w.heads, t.head)
		w.rowStart = append(w.rowStart, 0, w.rows)
	}
	if k.fast {
		w.doFast(t, table)
		return
	}
	for r := range w.rows {
		w.m[r] = float32(math.Inf(-1))
		w.l[r] = 0
	}
	clear(w.acc[:w.rows*d])
	w.attend(table, t.b0, t.b1)
	w.finish(t)
}

// attend runs every row over blocks [b0, b1) of table, chunk by chunk.
func (w *worker) attend(table []int32, b0, b1 int) {
	it := w.chunker(table, b0, b1)
	for {
		var tok int
		if w.segs, tok = it.next(w.segs[:0]); tok == 0 {
			return
		}
		w.chunk(tok)
	}
}

// chunker walks blocks [b, b1) of a table over the positions [lo, hi] that some row
// attends to, and yields chunks of at most chunkTokens tokens: several small blocks
// together, or chunk-sized pieces of a large block, so the working set does not grow
// with the block size.
type chunker struct {
	table         []int32
	bs, b, b1     int
	lo, hi, first int // first: the next token of block b (when splitting it)
}

func (w *worker) chunker(table []int32, b0, b1 int) chunker {
	lo, hi := w.lo[0], w.hi[0] // union of the rows' ranges
	for r := 1; r < w.rows; r++ {
		lo, hi = min(lo, w.lo[r]), max(hi, w.hi[r])
	}
	return chunker{table: table, bs: w.k.c.cfg.BlockSize, b: b0, b1: b1, lo: lo, hi: hi}
}

// next appends the next chunk's segments to segs and returns them with the chunk's
// token count (0 at the end).
func (it *chunker) next(segs []seg) ([]seg, int) {
	tok := 0
	for it.b < it.b1 {
		p0 := it.b * it.bs
		first, last := max(it.first, it.lo-p0), min(it.bs-1, it.hi-p0)
		if first > last {
			it.b, it.first = it.b+1, 0
			continue
		}
		if n := last - first + 1; tok+n > chunkTokens {
			if tok > 0 {
				break
			}
			last = first + chunkTokens - 1 // a piece of a block larger than a chunk
			it.first = last + 1
			return append(segs, seg{id: it.table[it.b], p0: p0, first: first, last: last}), chunkTokens
		}
		segs = append(segs, seg{id: it.table[it.b], p0: p0, first: first, last: last, off: tok})
		tok += last - first + 1
		it.b, it.first = it.b+1, 0
	}
	return segs, tok
}

// chunk scores the rows against the chunk's tokens, updates the running softmax
// states and accumulates the weighted values.
func (w *worker) chunk(tok int) {
	d := w.k.c.cfg.HeadDim
	scale := w.k.scale
	ninf := float32(math.Inf(-1))
	first, last := w.segs[0], w.segs[len(w.segs)-1]
	for hi, h := range w.heads {
		r0, r1 := w.rowStart[hi], w.rowStart[hi+1]
		if w.allSee(r0, r1, first.p0+first.first) && w.allSee(r0, r1, last.p0+last.last) {
			// Every row sees every token: score the head's segments in one call.
			w.ksegs = w.ksegs[:0]
			for _, s := range w.segs {
				w.ksegs = append(w.ksegs, w.segment(true, s, h))
			}
			scoreRowsSegs(w.q[r0:r1], w.ksegs, d, scale, w.scores[r0*w.stride:], w.stride)
			continue
		}
		for _, s := range w.segs {
			kseg := w.segment(true, s, h)
			for t := s.first; t <= s.last; t++ {
				krow := kseg[(t-s.first)*d : (t-s.first+1)*d]
				pos, col := s.p0+t, s.off+t-s.first
				for r := r0; r < r1; r++ {
					v := ninf
					if pos >= w.lo[r] && pos <= w.hi[r] {
						v = dot(w.q[r], krow) * scale
					}
					w.scores[r*w.stride+col] = v
				}
			}
		}
	}
	for r := range w.rows {
		sc := w.scores[r*w.stride : r*w.stride+tok]
		mx := maxOf(sc)
		if mx == ninf { // the row sees none of these tokens: they weigh nothing
			clear(sc)
			continue
		}
		if mx > w.m[r] {
			if w.l[r] != 0 {
				f := fastExp(w.m[r] - mx)
				w.l[r] *= f
				scaleGo(w.acc[r*d:(r+1)*d], f)
			}
			w.m[r] = mx
		}
		w.l[r] += expShift(sc, w.m[r])
	}
	for hi, h := range w.heads {
		r0, r1 := w.rowStart[hi], w.rowStart[hi+1]
		w.vsegs = w.vsegs[:0]
		for _, s := range w.segs {
			w.vsegs = append(w.vsegs, w.segment(false, s, h))
		}
		accumRowsSegs(w.acc[r0*d:r1*d], r1-r0, w.scores[r0*w.stride:], w.stride, w.vsegs, d)
	}
}

// allSee reports whether every row in [r0, r1) attends to position pos.
func (w *worker) allSee(r0, r1, pos int) bool {
	for r := r0; r < r1; r++ {
		if pos < w.lo[r] || pos > w.hi[r] {
			return false
		}
	}
	return true
}

// segment returns the K (or V) elements of tokens [s.first, s.last] of block s.id and
// KV head h as float32: the arena itself for Float32, widened scratch otherwise.
func (w *worker) segment(key bool, s seg, h int) []float32 {
	c, l := w.k.c, w.k.layer
	d := c.cfg.HeadDim
	off := int(s.id)*c.blockLen + h*c.rowLen + s.first*d
	n := (s.last - s.first + 1) * d
	dst := w.vf[s.off*d : s.off*d+n]
	if key {
		dst = w.kf[s.off*d : s.off*d+n]
	}
	switch c.cfg.DType {
	case Float32:
		if key {
			return c.k32[l][off : off+n]
		}
		return c.v32[l][off : off+n]
	case Float16, BFloat16:
		src := c.v16[l][off : off+n]
		if key {
			src = c.k16[l][off : off+n]
		}
		if c.cfg.DType == Float16 {
			widenF16(dst, src)
		} else {
			widenBF16(dst, src)
		}
	case FP8E4M3:
		src := c.v8[l][off : off+n]
		if key {
			src = c.k8[l][off : off+n]
		}
		widenFP8(dst, src)
	}
	return dst
}

// finish writes the task's rows: normalised output, or partial state for merging.
func (w *worker) finish(t *task) {
	k := w.k
	d, g := k.c.cfg.HeadDim, k.group
	if !k.prefill {
		if k.parts > 1 {
			qh := k.qh
			base := (t.seq*k.parts + t.part) * qh
			copy(k.partM[base:base+qh], w.m[:qh])
			copy(k.partL[base:base+qh], w.l[:qh])
			copy(k.partAcc[base*d:(base+qh)*d], w.acc[:qh*d])
			return
		}
		w.normalize(k.out[t.seq*k.qh*d:][:w.rows*d], 0, w.rows)
		return
	}
	r := 0
	for i := t.q0; i < t.q1; i++ {
		o := k.out[((i*k.qh)+t.head*g)*d:][:g*d]
		w.normalize(o, r, r+g)
		r += g
	}
}

// normalize writes rows [r0, r1) as acc / l into o.
func (w *worker) normalize(o []float32, r0, r1 int) {
	d := w.k.c.cfg.HeadDim
	for r := r0; r < r1; r++ {
		a := w.acc[r*d : (r+1)*d]
		dst := o[(r-r0)*d : (r-r0+1)*d]
		inv := 1 / w.l[r]
		for x := range dst {
			dst[x] = a[x] * inv
		}
	}
}
