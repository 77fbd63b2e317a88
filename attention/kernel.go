package attention

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Params are the attention parameters of one call.
type Params struct {
	// QHeads is the model's number of query heads, a multiple of the cache's
	// KVHeads (and of its TPSize); 0 means KVHeads (multi-head attention). Query
	// head i reads KV head i / (QHeads/KVHeads) (grouped-query attention; KVHeads ==
	// 1 is multi-query). A sharded cache computes query heads
	// Config.QHeadRange(QHeads) only.
	QHeads int
	// Scale multiplies q·k; 0 means 1/√HeadDim.
	Scale float32
	// Window, if > 0, is a sliding window: a query at position p attends to key
	// positions (p − Window, p]. Table entries of blocks wholly before the window of
	// every query are never read nor checked (window.go).
	Window int
	// Chunk, if > 0, is chunked local attention: a query at position p attends to key
	// positions [⌊p/Chunk⌋·Chunk, p], those of its own chunk. Table entries of
	// blocks wholly before the chunk of every query are never read nor checked
	// (chunk.go). Chunk and Window are mutually exclusive.
	Chunk int
}

// Kernel runs paged attention over a Cache with a fixed set of worker goroutines and
// reusable scratch: in steady state a call allocates nothing. A Kernel serves one
// call at a time (use one per goroutine); Close stops its workers.
//
// Work is split into tasks of (sequence, context part) for decode — every KV head of
// the sequence, so a block's heads, adjacent in memory, are read in one sweep — and
// (query tile, KV head) for prefill. Query heads that share a KV head are computed
// together, so each K and V row is read once per task. Long contexts with few sequences are cut
// into parts whose partial softmax states (running max, sum, weighted values) are
// merged afterwards, as in PagedAttention V2 / flash-decoding, so all cores work.
type Kernel struct {
	workers []*worker
	wake    []chan struct{}
	wg      sync.WaitGroup
	next    atomic.Int64
	closed  bool

	// current call
	c      *Cache
	layer  int
	p      Params
	qh     int // query heads of this call (the shard's)
	scale  float32
	group  int
	q      []float32
	out    []float32
	tables [][]int32
	ctx    []int
	tasks  []task
	parts  int
	// partial states for split decode: per (seq, kv head, part): G maxes, G sums, G×d acc
	partM, partL, partAcc []float32
	// prefill
	prefill bool
	start   int
	table   []int32
	// fast: this call runs on the assembly path (path.go, fast.go)
	fast bool
}

type task struct {
	seq, head, part int
	b0, b1          int // block range
	q0, q1          int // prefill: query tokens [q0, q1)
}

// prefillTile is the number of query tokens a prefill task processes together.
const prefillTile = 8

// NewKernel starts a kernel with n workers (n ≤ 0: GOMAXPROCS).
func NewKernel(n int) *Kernel {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	k := &Kernel{}
	for range n {
		w := &worker{k: k}
		ch := make(chan struct{})
		k.workers = append(k.workers, w)
		k.wake = append(k.wake, ch)
		go w.loop(ch)
	}
	return k
}

// Close stops the workers. The Kernel must not be used afterwards.
func (k *Kernel) Close() {
	if !k.closed {
		k.closed = true
		for _, ch := range k.wake {
			close(ch)
		}
	}
}

// Workers returns the number of worker goroutines.
func (k *Kernel) Workers() int { return len(k.workers) }

func (k *Kernel) run() {
	k.next.Store(0)
	k.wg.Add(len(k.workers))
	for _, ch := range k.wake {
		ch <- struct{}{}
	}
	k.wg.Wait()
}

func (k *Kernel) setup(c *Cache, layer int, p Params) error {
	if k.closed {
		return fmt.Errorf("%w: kernel closed", ErrInvalidConfig)
	}
	if err := c.checkLayer(layer); err != nil {
		return err
	}
	kv := c.cfg.KVHeads
	if p.QHeads == 0 {
		p.QHeads = kv
	}
	if p.QHeads < 0 || p.QHeads%kv != 0 || p.QHeads%c.cfg.TPSize != 0 || p.Window < 0 || p.Chunk < 0 {
		return fmt.Errorf("%w: %d query heads for %d KV heads over %d ranks, window %d, chunk %d", ErrInvalidConfig, p.QHeads, kv, c.cfg.TPSize, p.Window, p.Chunk)
	}
	if p.Window > 0 && p.Chunk > 0 {
		return fmt.Errorf("%w: window %d and chunk %d: at most one of them", ErrInvalidConfig, p.Window, p.Chunk)
	}
	_, k.qh = c.cfg.QHeadRange(p.QHeads)
	k.c, k.layer, k.p, k.group = c, layer, p, k.qh/c.heads
	k.scale = p.Scale
	if k.scale == 0 {
		k.scale = float32(1 / math.Sqrt(float64(c.cfg.HeadDim)))
	}
	k.fast = kernelPath(activePath.Load()) == pathAVX2 && c.cfg.HeadDim%16 == 0
	return nil
}

// prepare sizes the workers' scratch for the call set up; Decode and Prefill call it
// only once every buffer has been checked, so a refused call allocates nothing.
func (k *Kernel) prepare() {
	for _, w := range k.workers {
		w.ensure(k.c, max(k.group*prefillTile, k.qh))
	}
}

// checkTable checks that table covers n tokens and names valid blocks from the one
// holding position from on (the first position any query reads).
func checkTable(c *Cache, table []int32, from, n int) error {
	if len(table)*c.cfg.BlockSize < n {
		return fmt.Errorf("%w: %d tokens but the block table covers %d", ErrOutOfRange, n, len(table)*c.cfg.BlockSize)
	}
	for _, b := range table[from/c.cfg.BlockSize : (n+c.cfg.BlockSize-1)/c.cfg.BlockSize] {
		if b < 0 || int(b) >= c.cfg.NumBlocks {
			return fmt.Errorf("%w: block id %d not in [0,%d)", ErrOutOfRange, b, c.cfg.NumBlocks)
		}
	}
	return nil
}

// Decode computes one query token per sequence: q and out are [seq][query head][head
// dim] over the shard's query heads (all of them without sharding); sequence s attends to its first ctxLens[s] cached tokens through tables[s]
// (its own token, at position ctxLens[s]−1, must already be written).
func (k *Kernel) Decode(c *Cache, layer int, p Params, q []float32, tables [][]int32, ctxLens []int, out []float32) error {
	if err := k.setup(c, layer, p); err != nil {
		return err
	}
	n, d := len(tables), c.cfg.HeadDim
	if len(ctxLens) != n || len(q) != n*k.qh*d || len(out) != len(q) {
		return fmt.Errorf("%w: %d tables, %d lengths, q %d, out %d (want %d)", ErrShape, n, len(ctxLens), len(q), len(out), n*k.qh*d)
	}
	totalBlocks := 0
	for s, t := range tables {
		if ctxLens[s] <= 0 {
			return fmt.Errorf("%w: sequence %d has context length %d", ErrOutOfRange, s, ctxLens[s])
		}
		if err := checkTable(c, t, p.firstKey(ctxLens[s]-1), ctxLens[s]); err != nil {
			return fmt.Errorf("sequence %d: %w", s, err)
		}
		totalBlocks += (ctxLens[s] + c.cfg.BlockSize - 1) / c.cfg.BlockSize
	}
	k.prepare()
	k.q, k.out, k.tables, k.ctx, k.prefill, k.table = q, out, tables, ctxLens, false, nil
	// Split contexts so there are at least 4 tasks per worker when possible.
	k.parts = 1
	if n < 4*len(k.workers) {
		k.parts = max(1, min((4*len(k.workers)+n-1)/n, totalBlocks/n))
	}
	k.tasks = k.tasks[:0]
	for s := range n {
		nb := (ctxLens[s] + c.cfg.BlockSize - 1) / c.cfg.BlockSize
		first := p.firstKey(ctxLens[s]-1) / c.cfg.BlockSize // first block inside the window or chunk
		span := nb - first
		for part := range k.parts {
			k.tasks = append(k.tasks, task{seq: s, part: part, b0: first + span*part/k.parts, b1: first + span*(part+1)/k.parts})
		}
	}
	if k.parts > 1 {
		slots := n * k.parts * k.qh
		k.partM = grow(k.partM, slots)
		k.partL = grow(k.partL, slots)
		k.partAcc = grow(k.partAcc, slots*d)
	}
	k.run()
	if k.parts > 1 {
		k.mergeParts()
	}
	return nil
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// mergeParts combines the partial softmax states of each sequence's query heads.
func (k *Kernel) mergeParts() {
	d, qh := k.c.cfg.HeadDim, k.qh
	for s := range k.tables {
		for j := range qh {
			m := float32(math.Inf(-1))
			for part := range k.parts {
				m = max(m, k.partM[(s*k.parts+part)*qh+j])
			}
			o := k.out[(s*qh+j)*d:][:d]
			clear(o)
			var l float32
			for part := range k.parts {
				i := (s*k.parts+part)*qh + j
				if k.partL[i] == 0 {
					continue
				}
				f := float32(math.Exp(float64(k.partM[i] - m)))
				l += k.partL[i] * f
				axpy(o, f, k.partAcc[i*d:(i+1)*d])
			}
			scaleGo(o, 1/l)
		}
	}
}

// Prefill computes n query tokens of one sequence at positions [start, start+n):
// q and out are [token][query head][head dim] over the shard's query heads; query token i attends causally to
// positions ≤ start+i through table, whose first start+n tokens must be written
// (the cached prefix and these tokens themselves). Chunked prefill is a Prefill per
// chunk.
func (k *Kernel) Prefill(c *Cache, layer int, p Params, q []float32, table []int32, start, n int, out []float32) error {
	if err := k.setup(c, layer, p); err != nil {
		return err
	}
	d := c.cfg.HeadDim
	if start < 0 || n <= 0 || len(q) != n*k.qh*d || len(out) != len(q) {
		return fmt.Errorf("%w: start %d, %d tokens, q %d, out %d (want %d)", ErrShape, start, n, len(q), len(out), n*k.qh*d)
	}
	if start > math.MaxInt-n {
		return fmt.Errorf("%w: prefill of %d tokens at position %d", ErrOutOfRange, n, start)
	}
	if err := checkTable(c, table, p.firstKey(start), start+n); err != nil {
		return err
	}
	k.prepare()
	k.q, k.out, k.table, k.start, k.prefill, k.tables = q, out, table, start, true, nil
	k.tasks = k.tasks[:0]
	bs := c.cfg.BlockSize
	for q0 := 0; q0 < n; q0 += prefillTile {
		q1 := min(n, q0+prefillTile)
		lo := p.firstKey(start + q0) // the tile's earliest first key
		for h := range c.heads {
			k.tasks = append(k.tasks, task{head: h, q0: q0, q1: q1, b0: lo / bs, b1: (start+q1-1)/bs + 1})
		}
	}
	k.parts = 1
	// Longest tiles first balances the workers: they are at the end.
	for i, j := 0, len(k.tasks)-1; i < j; i, j = i+1, j-1 {
		k.tasks[i], k.tasks[j] = k.tasks[j], k.tasks[i]
	}
	k.run()
	return nil
}
