package bench

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pagedkv/pagedkv/attention"
	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/paged"
)

// PoolAllocRelease allocates and releases n blocks per operation on the block pool.
func PoolAllocRelease(n int) func(*testing.B) {
	return func(b *testing.B) {
		p, _ := blockpool.New(blockpool.DefaultConfig(4096))
		buf := make([]blockpool.BlockID, 0, n)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = p.Allocate(buf[:0], n)
			_ = p.ReleaseTable(buf)
		}
	}
}

// SimplePoolAllocRelease is the baseline for PoolAllocRelease.
func SimplePoolAllocRelease(n int) func(*testing.B) {
	return func(b *testing.B) {
		p := newSimplePool(4096)
		buf := make([]int32, 0, n)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = p.alloc(buf[:0], n)
			p.release(buf)
		}
	}
}

func tokens(from, n int) []int32 {
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(from + i)
	}
	return t
}

// ManagerDecodeStep is one decode step of n running sequences: append one token each,
// reserve its slot and produce the slot mapping (DecodeStep), then mark the tokens
// computed (MarkComputedBatch; every 16th step this registers a full block in the
// prefix cache, evicting an old one). decodestep-ns/op is DecodeStep alone. Sequences
// restart outside the timer every 1,900 steps.
func ManagerDecodeStep(n int) func(*testing.B) {
	return func(b *testing.B) {
		const promptLen, maxLen = 100, 2000
		cfg := paged.DefaultConfig()
		cfg.NumBlocks = n * (maxLen/16 + 2)
		m, _ := paged.New(cfg)
		ids := make([]paged.SeqID, n)
		start := func(i int) {
			id, _ := m.Add(tokens(i*7919, promptLen), paged.SeqOptions{Capacity: maxLen + 1})
			_, _ = m.Reserve(id, promptLen, 0, nil)
			_ = m.MarkComputed(id, promptLen)
			ids[i] = id
		}
		for i := range n {
			start(i)
		}
		toks, slots := make([]int32, n), make([]int64, n)
		var copies []paged.BlockCopy
		steps := 0
		var decodeOnly time.Duration
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			for i := range toks {
				toks[i] = int32(steps + i)
			}
			var err error
			t0 := time.Now()
			if copies, err = m.DecodeStep(ids, toks, 0, slots, copies[:0]); err != nil {
				b.Fatal(err)
			}
			decodeOnly += time.Since(t0)
			_ = m.MarkComputedBatch(ids, 1)
			if steps++; promptLen+steps >= maxLen {
				b.StopTimer()
				for i, id := range ids {
					_ = m.Free(id)
					start(i)
				}
				steps = 0
				b.StartTimer()
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/seq")
		b.ReportMetric(float64(decodeOnly.Nanoseconds())/float64(b.N), "decodestep-ns/op")
	}
}

// SimpleManagerDecodeStep is the baseline for ManagerDecodeStep.
func SimpleManagerDecodeStep(n int) func(*testing.B) {
	return func(b *testing.B) {
		const promptLen, maxLen = 100, 2000
		m := newSimpleManager(n*(maxLen/16+2), 16)
		ids := make([]int, n)
		start := func(i int) { ids[i], _ = m.add(tokens(i*7919, promptLen)) }
		for i := range n {
			start(i)
		}
		slots := make([]int64, n)
		steps := 0
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			for i, id := range ids {
				slots[i] = m.decode(id, 0)
			}
			if steps++; promptLen+steps >= maxLen {
				b.StopTimer()
				for i, id := range ids {
					m.free(id)
					start(i)
				}
				steps = 0
				b.StartTimer()
			}
		}
	}
}

// GPUDecodeStepSeconds is the simulator's time model (the roofline, without the
// per-iteration overhead) for one decode step of batch sequences with ctx context
// tokens each: Llama-2-7B on one A100-80GB.
func GPUDecodeStepSeconds(batch, ctx int) float64 {
	hw := hardware.Default()
	hw.Model, _ = hardware.LookupModel("llama-2-7b")
	hw.GPU, _ = hardware.LookupGPU("a100-80")
	return hw.RooflineTime(batch, batch*ctx)
}

// AdmissionReplay replays prompts through the manager alone: one-call admission
// (lookup, claim the hits, reserve the rest), mark computed, free. It reports prompts/s and the token hit rate.
func AdmissionReplay(prompts [][]int32, numBlocks int) func(*testing.B) {
	return func(b *testing.B) {
		var hits, queries float64
		for b.Loop() {
			cfg := paged.DefaultConfig()
			cfg.NumBlocks = numBlocks
			cfg.DisableWatermark = true // one prompt at a time: admit whatever fits
			m, _ := paged.New(cfg)
			for _, p := range prompts {
				id, _ := m.Add(p, paged.SeqOptions{})
				adm, err := m.Admit(id, len(p), 0, nil)
				if err != nil || adm.Admission != paged.AdmitNow {
					_ = m.Free(id)
					continue
				}
				_ = m.MarkComputed(id, adm.N)
				_ = m.Free(id)
			}
			st := m.Stats()
			hits, queries = float64(st.PrefixHits), float64(st.PrefixQueries)
		}
		b.ReportMetric(float64(len(prompts))*float64(b.N)/b.Elapsed().Seconds(), "prompts/s")
		b.ReportMetric(hits/queries, "hit-rate")
	}
}

// SimpleAdmissionReplay is the baseline for AdmissionReplay.
func SimpleAdmissionReplay(prompts [][]int32, numBlocks int) func(*testing.B) {
	return func(b *testing.B) {
		for b.Loop() {
			m := newSimpleManager(numBlocks, 16)
			for _, p := range prompts {
				if id, _ := m.add(p); id > 0 {
					m.free(id)
				}
			}
		}
		b.ReportMetric(float64(len(prompts))*float64(b.N)/b.Elapsed().Seconds(), "prompts/s")
	}
}

// BeamSearch4 is one width-4 beam-search step over ~500-token beams: three forks of
// the best beam, three frees, and a decode step with three copy-on-writes.
func BeamSearch4(b *testing.B) {
	cfg := paged.DefaultConfig()
	cfg.NumBlocks = 1024
	m, _ := paged.New(cfg)
	prefill := func() paged.SeqID {
		id, _ := m.Add(tokens(0, 500), paged.SeqOptions{})
		_, _ = m.Reserve(id, 500, 0, nil)
		_ = m.MarkComputed(id, 500)
		return id
	}
	beams := []paged.SeqID{prefill()}
	for range 3 {
		c, _ := m.Fork(beams[0])
		beams = append(beams, c)
	}
	next := make([]paged.SeqID, 4)
	toks, slots := make([]int32, 4), make([]int64, 4)
	var copies []paged.BlockCopy
	b.ReportAllocs()
	for b.Loop() {
		next[0] = beams[0]
		for i := 1; i < 4; i++ {
			next[i], _ = m.Fork(beams[0])
			_ = m.Free(beams[i])
		}
		beams, next = next, beams
		copies, _ = m.DecodeStep(beams, toks, 0, slots, copies[:0])
		_ = m.MarkComputedBatch(beams, 1)
		if st, _ := m.State(beams[0]); st.Tokens > 1900 {
			b.StopTimer()
			for _, id := range beams {
				_ = m.Free(id)
			}
			beams[0] = prefill()
			for i := 1; i < 4; i++ {
				beams[i], _ = m.Fork(beams[0])
			}
			b.StartTimer()
		}
	}
}

// SimpleBeamSearch4 is the baseline for BeamSearch4.
func SimpleBeamSearch4(b *testing.B) {
	m := newSimpleManager(1024, 16)
	root, _ := m.add(tokens(0, 500))
	beams := []int{root, m.fork(root), m.fork(root), m.fork(root)}
	next := make([]int, 4)
	for b.Loop() {
		next[0] = beams[0]
		for i := 1; i < 4; i++ {
			next[i] = m.fork(beams[0])
			m.free(beams[i])
		}
		beams, next = next, beams
		for _, id := range beams {
			m.cow(id)
			m.decode(id, 0)
		}
		if len(m.seqs[beams[0]].tokens) > 1900 {
			b.StopTimer()
			for _, id := range beams {
				m.free(id)
			}
			root, _ = m.add(tokens(0, 500))
			beams = []int{root, m.fork(root), m.fork(root), m.fork(root)}
			b.StartTimer()
		}
	}
}

// Attention decode shape: 8 KV heads of 128, 32 query heads (GQA 4).
const attKV, attDim, attQ = 8, 128, 32

// AttentionCache builds a one-layer cache holding seqs sequences of ctx tokens with
// random K/V; blockSize = ctx gives every (sequence, head) one contiguous run (the
// contiguous baseline); paged tables are shuffled.
func AttentionCache(dt attention.DType, seqs, ctx, blockSize int) (*attention.Cache, [][]int32, error) {
	nb := seqs * ctx / blockSize
	c, err := attention.NewCache(attention.Config{Layers: 1, KVHeads: attKV, HeadDim: attDim, BlockSize: blockSize, NumBlocks: nb, DType: dt})
	if err != nil {
		return nil, nil, err
	}
	r := rand.New(rand.NewPCG(1, 1))
	// Write block by block (slots of one block at a time).
	kv := make([]float32, blockSize*attKV*attDim)
	for i := range kv {
		kv[i] = float32(r.NormFloat64())
	}
	slots := make([]int64, blockSize)
	for blk := range nb {
		for t := range slots {
			slots[t] = int64(blk*blockSize + t)
		}
		if err := c.Write(0, slots, kv, kv); err != nil {
			return nil, nil, err
		}
	}
	perm := r.Perm(nb)
	per := nb / seqs
	tables := make([][]int32, seqs)
	for s := range tables {
		for j := range per {
			tables[s] = append(tables[s], int32(perm[s*per+j]))
		}
	}
	return c, tables, nil
}

// AttentionDecode runs the decode kernel over a prepared cache; besides MB/s it
// reports the process CPU time per call (cpu-ns/op).
func AttentionDecode(c *attention.Cache, tables [][]int32, ctx int) func(*testing.B) {
	return func(b *testing.B) {
		k := attention.NewKernel(0)
		defer k.Close()
		n := len(tables)
		q := make([]float32, n*attQ*attDim)
		for i := range q {
			q[i] = float32(i%13) * 0.01
		}
		out := make([]float32, len(q))
		lens := make([]int, n)
		for i := range lens {
			lens[i] = ctx
		}
		b.SetBytes(int64(2 * n * ctx * attKV * attDim * c.Config().DType.Size()))
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := processCPU()
		for b.Loop() {
			if err := k.Decode(c, 0, attention.Params{QHeads: attQ}, q, tables, lens, out); err != nil {
				b.Fatal(err)
			}
		}
		// CPU time counts only while the process runs: on a machine shared with other
		// work it is far steadier than wall time for comparing kernels.
		if cpu := processCPU() - cpu0; cpu > 0 {
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// StreamRead sums a buffer of the given size with GOMAXPROCS goroutines: the
// machine's streaming read bandwidth.
func StreamRead(bytes int) func(*testing.B) {
	return func(b *testing.B) {
		n := bytes / 8
		buf := make([]uint64, n)
		for i := range buf {
			buf[i] = uint64(i)
		}
		workers := runtime.GOMAXPROCS(0)
		sums := make([]uint64, workers)
		b.SetBytes(int64(n * 8))
		b.ResetTimer()
		for b.Loop() {
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sums[w] = sumWords(buf[n*w/workers : n*(w+1)/workers])
				}()
			}
			wg.Wait()
		}
	}
}

func sumWords(b []uint64) uint64 {
	var s0, s1, s2, s3 uint64
	i := 0
	for ; i+4 <= len(b); i += 4 {
		s0 += b[i]
		s1 += b[i+1]
		s2 += b[i+2]
		s3 += b[i+3]
	}
	for ; i < len(b); i++ {
		s0 += b[i]
	}
	return s0 + s1 + s2 + s3
}

// AttentionPrefillChunk prefills the last chunk tokens of one sequence of ctx tokens
// (chunked prefill over a cached prefix) with the decode benchmark's head shape, and
// reports tok/s of the chunk.
func AttentionPrefillChunk(c *attention.Cache, table []int32, ctx, chunk int) func(*testing.B) {
	return func(b *testing.B) {
		q := make([]float32, chunk*attQ*attDim)
		for i := range q {
			q[i] = float32(i%11) * 0.01
		}
		out := make([]float32, len(q))
		k := attention.NewKernel(0)
		defer k.Close()
		b.ResetTimer()
		for b.Loop() {
			if err := k.Prefill(c, 0, attention.Params{QHeads: attQ}, q, table, ctx-chunk, chunk, out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(chunk)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
	}
}

// prefillShape is the prefill benchmark's shape: 8 query heads, 2 KV heads of 128.
const prefillQ, prefillKV = 8, 2

// AttentionPrefill prefills an n-token prompt (float32, block 16) and reports tok/s.
func AttentionPrefill(n int) func(*testing.B) {
	return func(b *testing.B) {
		c, _ := attention.NewCache(attention.Config{Layers: 1, KVHeads: prefillKV, HeadDim: attDim, BlockSize: 16, NumBlocks: (n + 15) / 16, DType: attention.Float32})
		r := rand.New(rand.NewPCG(2, 2))
		kv := make([]float32, n*prefillKV*attDim)
		for i := range kv {
			kv[i] = float32(r.NormFloat64())
		}
		slots := make([]int64, n)
		table := make([]int32, (n+15)/16)
		for i := range table {
			table[i] = int32(i)
		}
		for i := range slots {
			slots[i] = int64(i)
		}
		_ = c.Write(0, slots, kv, kv)
		q := make([]float32, n*prefillQ*attDim)
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
		out := make([]float32, len(q))
		k := attention.NewKernel(0)
		defer k.Close()
		b.ResetTimer()
		for b.Loop() {
			_ = k.Prefill(c, 0, attention.Params{QHeads: prefillQ}, q, table, 0, n, out)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
	}
}

// ReferencePrefill runs the float64 reference on an n-token prompt and reports tok/s.
func ReferencePrefill(n int) func(*testing.B) {
	return func(b *testing.B) {
		kv := make([]float32, n*prefillKV*attDim)
		q := make([]float32, n*prefillQ*attDim)
		pos := make([]int, n)
		for i := range pos {
			pos[i] = i
		}
		for b.Loop() {
			_ = attention.Reference(q, kv, kv, prefillQ, prefillKV, attDim, pos, 1/math.Sqrt(attDim), 0)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
	}
}
