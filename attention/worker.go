package attention

import "math"

// worker owns the scratch of one goroutine.
type worker struct {
	k *Kernel
	// per task: R query rows
	rows       int
	q          [][]float32 // row r's query vector
	hi, lo     []int       // row r attends to key positions [lo[r], hi[r]]
	m, l       []float32   // running max and sum per row
	acc        []float32   // R × d weighted values
	scores     []float32   // R × BlockSize
	kf, vf     []float32   // a block segment widened to float32
}

func (w *worker) ensure(c Config, rows int) {
	d, bs := c.HeadDim, c.BlockSize
	if len(w.q) < rows {
		w.q = make([][]float32, rows)
		w.hi, w.lo = make([]int, rows), make([]int, rows)
		w.m, w.l = make([]float32, rows), make([]float32, rows)
	}
	w.acc = grow(w.acc, rows*d)
	w.scores = grow(w.scores, rows*bs)
	w.kf = grow(w.kf, bs*d)
	w.vf = grow(w.vf, bs*d)
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
	if !k.prefill {
		table = k.tables[t.seq]
		ctx := k.ctx[t.seq]
		w.rows = g
		for j := range g {
			w.q[j] = k.q[((t.seq*k.p.QHeads)+t.head*g+j)*d:][:d]
			w.hi[j] = ctx - 1
			w.lo[j] = 0
			if k.p.Window > 0 {
				w.lo[j] = max(0, ctx-k.p.Window)
			}
		}
	} else {
		table = k.table
		w.rows = (t.q1 - t.q0) * g
		r := 0
		for i := t.q0; i < t.q1; i++ {
			pos := k.start + i
			for j := range g {
				w.q[r] = k.q[((i*k.p.QHeads)+t.head*g+j)*d:][:d]
				w.hi[r] = pos
				w.lo[r] = 0
				if k.p.Window > 0 {
					w.lo[r] = max(0, pos-k.p.Window+1)
				}
				r++
			}
		}
	}
	for r := range w.rows {
		w.m[r] = float32(math.Inf(-1))
		w.l[r] = 0
	}
	acc := w.acc[:w.rows*d]
	clear(acc)
	for b := t.b0; b < t.b1; b++ {
		w.block(table[b], b*c.cfg.BlockSize, t.head)
	}
	w.finish(t)
}

// block attends every row to the valid tokens of one physical block whose first
// token is at position p0.
func (w *worker) block(id int32, p0, head int) {
	k := w.k
	c := k.c
	d, bs := c.cfg.HeadDim, c.cfg.BlockSize
	// Which tokens of the block does any row need?
	first, last := bs, -1
	for r := range w.rows {
		first = min(first, max(0, w.lo[r]-p0))
		last = max(last, min(bs-1, w.hi[r]-p0))
	}
	if last < first {
		return
	}
	off := int(id)*c.blockLen + head*c.rowLen
	kseg, vseg := w.segment(off+first*d, (last-first+1)*d)
	scale := k.scale
	for r := range w.rows {
		lo, hi := max(first, w.lo[r]-p0), min(last, w.hi[r]-p0)
		sc := w.scores[r*bs : r*bs+bs]
		if hi < lo {
			continue
		}
		q := w.q[r]
		mx := float32(math.Inf(-1))
		for t := lo; t <= hi; t++ {
			s := dot(q, kseg[(t-first)*d:(t-first+1)*d]) * scale
			sc[t] = s
			mx = max(mx, s)
		}
		a := w.acc[r*d : (r+1)*d]
		if mx > w.m[r] {
			if w.l[r] != 0 {
				f := float32(math.Exp(float64(w.m[r] - mx)))
				w.l[r] *= f
				scaleGo(a, f)
			}
			w.m[r] = mx
		}
		m := w.m[r]
		var sum float32
		for t := lo; t <= hi; t++ {
			e := float32(math.Exp(float64(sc[t] - m)))
			sum += e
			axpy(a, e, vseg[(t-first)*d:(t-first+1)*d])
		}
		w.l[r] += sum
	}
}

// segment returns n float32 elements of K and V at element offset off of the layer's
// arenas, widened into scratch when stored narrower.
func (w *worker) segment(off, n int) (kseg, vseg []float32) {
	c, l := w.k.c, w.k.layer
	switch c.cfg.DType {
	case Float32:
		return c.k32[l][off : off+n], c.v32[l][off : off+n]
	case Float16:
		widenF16(w.kf[:n], c.k16[l][off:off+n])
		widenF16(w.vf[:n], c.v16[l][off:off+n])
	case BFloat16:
		widenBF16(w.kf[:n], c.k16[l][off:off+n])
		widenBF16(w.vf[:n], c.v16[l][off:off+n])
	case FP8E4M3:
		widenFP8(w.kf[:n], c.k8[l][off:off+n])
		widenFP8(w.vf[:n], c.v8[l][off:off+n])
	}
	return w.kf[:n], w.vf[:n]
}

// finish writes the task's rows: normalised output, or partial state for merging.
func (w *worker) finish(t *task) {
	k := w.k
	d, g := k.c.cfg.HeadDim, k.group
	if !k.prefill && k.parts > 1 {
		base := ((t.seq*k.c.cfg.KVHeads+t.head)*k.parts + t.part) * g
		copy(k.partM[base:base+g], w.m[:g])
		copy(k.partL[base:base+g], w.l[:g])
		copy(k.partAcc[base*d:(base+g)*d], w.acc[:g*d])
		return
	}
	r := 0
	for i := t.q0; i < max(t.q1, t.q0+1); i++ {
		for j := range g {
			var o []float32
			if !k.prefill {
				o = k.out[((t.seq*k.p.QHeads)+t.head*g+j)*d:][:d]
			} else {
				o = k.out[((i*k.p.QHeads)+t.head*g+j)*d:][:d]
			}
			a := w.acc[r*d : (r+1)*d]
			inv := 1 / w.l[r]
			for x := range o {
				o[x] = a[x] * inv
			}
			r++
		}
		if !k.prefill {
			break
		}
	}
}
