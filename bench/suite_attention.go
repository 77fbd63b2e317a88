package bench

import (
	"fmt"
	"math"
	"testing"

	"github.com/pagedkv/pagedkv/attention"
)

// The attention figures. Each is measured in interleaved rounds (Options.Reps) beside
// its baseline: Value and Baseline are medians over the rounds, Ratio the median of
// the per-round ratios, Spread that ratio's relative range.

var attentionTypes = []attention.DType{attention.Float32, attention.BFloat16, attention.FP8E4M3}

// onPath runs f with the kernels on the given path (attention.SetPath), then restores
// the path that was selected.
func onPath(path string, f func() testing.BenchmarkResult) func() testing.BenchmarkResult {
	return func() testing.BenchmarkResult {
		prev := attention.Path()
		if err := attention.SetPath(path); err != nil {
			panic(err) // paths come from attention.Paths()
		}
		defer func() { _ = attention.SetPath(prev) }()
		return f()
	}
}

func (s *suite) attentionDecode() error {
	type shape struct {
		label     string
		seqs, ctx int
	}
	shapes := []shape{{"1k", 32, 1024}, {"4k", 32, 4096}, {"16k", 8, 16384}}
	if s.opts.Short {
		shapes = shapes[:2]
	}
	reps := s.opts.reps()
	streamDone := false
	for _, sh := range shapes {
		var ms []measurement
		var types []attention.DType
		for _, dt := range attentionTypes {
			name := fmt.Sprintf("attention/decode-%s-%v", sh.label, dt)
			if !s.opts.want(name) {
				continue
			}
			c, tables, err := AttentionCache(dt, sh.seqs, sh.ctx, 16)
			if err != nil {
				return err
			}
			ms = append(ms, measurement{name, benchOf(AttentionDecode(c, tables, sh.ctx))})
			types = append(types, dt)
		}
		if len(ms) == 0 {
			continue
		}
		// The streaming bandwidth is measured in every shape's rounds, so each
		// figure's limit comes from the same moments.
		ms = append(ms, measurement{"attention/stream-read", benchOf(StreamRead(2 * 32 * 4096 * attKV * attDim * 4))})
		res := s.rounds(ms, reps)
		stream := values(res[len(res)-1], gbps)
		if !streamDone {
			streamDone = true
			s.add(Result{Name: "attention/stream-read", Unit: "GB/s", Value: median(stream), Baseline: median(stream),
				Ratio: 1, Reps: reps, Spread: spread(stream), BaselineName: "plain sum over 1 GiB, all cores", Better: "higher"})
		}
		var f32 []testing.BenchmarkResult
		for i, dt := range types {
			name := ms[i].name
			s.add(figure(Result{Name: name, Unit: "GB/s", BaselineName: "streaming read bandwidth (same rounds)", Better: "higher",
				Note: fmt.Sprintf("%d seqs × %d tokens, 8 KV heads × 128, GQA 4, block 16, shuffled tables", sh.seqs, sh.ctx)}, values(res[i], gbps), stream))
			if dt == attention.Float32 {
				f32 = res[i]
				continue
			}
			if f32 == nil {
				continue
			}
			// The same calls with smaller elements: the speedup in tokens/s is the
			// ratio of times per call, in wall time and in process CPU time.
			ideal := 4 / float64(dt.Size())
			for _, sp := range []struct {
				suffix, unit string
				of           func(testing.BenchmarkResult) float64
			}{
				{"-speedup", "× vs float32", func(r testing.BenchmarkResult) float64 { return float64(r.NsPerOp()) }},
				{"-speedup-cpu", "× vs float32 (CPU time)", extra("cpu-ns/op")},
			} {
				v := perRound(values(f32, sp.of), values(res[i], sp.of), div)
				if median(v) == 0 || math.IsNaN(median(v)) {
					continue // no CPU time on this OS
				}
				s.add(Result{Name: name + sp.suffix, Unit: sp.unit, Value: median(v), Baseline: ideal,
					Ratio: median(v) / ideal, Reps: reps, Spread: spread(v),
					BaselineName: "bytes saved (ideal speedup in tokens/s)", Better: "higher"})
			}
		}
		ms = nil
		release()
		if sh.label == "4k" {
			if err := s.attentionDecodeBaselines(sh.seqs, sh.ctx, reps); err != nil {
				return err
			}
		}
	}
	return nil
}

// attentionDecodeBaselines compares, per element type, the paged kernel with the
// same kernel over contiguous K/V, and (full suite) the selected kernel path with
// the portable one.
func (s *suite) attentionDecodeBaselines(seqs, ctx, reps int) error {
	for _, dt := range attentionTypes {
		name := fmt.Sprintf("attention/decode-4k-%v", dt)
		if !s.opts.want(name) {
			continue
		}
		c, tables, err := AttentionCache(dt, seqs, ctx, 16)
		if err != nil {
			return err
		}
		paged := AttentionDecode(c, tables, ctx)
		cc, ct, err := AttentionCache(dt, seqs, ctx, ctx)
		if err != nil {
			return err
		}
		res := s.rounds([]measurement{{name, benchOf(paged)}, {name + " (contiguous)", benchOf(AttentionDecode(cc, ct, ctx))}}, reps)
		s.add(figure(Result{Name: name + "-vs-contiguous", Unit: "GB/s", BaselineName: "same kernel over contiguous K/V", Better: "higher"},
			values(res[0], gbps), values(res[1], gbps)))
		if cpu := extra("cpu-ns/op"); median(values(res[0], cpu)) > 0 {
			// the same comparison in process CPU time: calls per CPU-second
			perCPUs := func(r testing.BenchmarkResult) float64 { return 1e9 / cpu(r) }
			s.add(figure(Result{Name: name + "-vs-contiguous-cpu", Unit: "calls/CPU-s", BaselineName: "same kernel over contiguous K/V, in CPU time", Better: "higher"},
				values(res[0], perCPUs), values(res[1], perCPUs)))
		}
		cc, ct = nil, nil
		release()
		if path := attention.Path(); !s.opts.Short && path != "portable" {
			res := s.rounds([]measurement{{name, benchOf(paged)}, {name + " (portable path)", onPath("portable", benchOf(paged))}}, reps)
			s.add(figure(Result{Name: name + "-vs-portable", Unit: "GB/s", BaselineName: "same call on the portable (Go) kernel path",
				Better: "higher", Note: "selected path: " + path}, values(res[0], gbps), values(res[1], gbps)))
		}
		c, tables = nil, nil
		release()
	}
	return nil
}

// attentionPrefill measures 512-token prefill chunks over 1K, 4K (and 16K) contexts
// per element type beside the same kernel over contiguous K/V, and a 2,048-token
// prompt beside the float64 reference (and, full suite, the portable path).
func (s *suite) attentionPrefill() error {
	const chunk = 512
	reps := s.opts.reps()
	ctxs := []int{1024, 4096, 16384}
	if s.opts.Short {
		ctxs = ctxs[:2]
	}
	for _, ctx := range ctxs {
		for _, dt := range attentionTypes {
			name := fmt.Sprintf("attention/prefill-chunk512-%dk-%v", ctx/1024, dt)
			if !s.opts.want(name) {
				continue
			}
			c, tables, err := AttentionCache(dt, 1, ctx, 16)
			if err != nil {
				return err
			}
			cc, ct, err := AttentionCache(dt, 1, ctx, ctx)
			if err != nil {
				return err
			}
			res := s.rounds([]measurement{
				{name, benchOf(AttentionPrefillChunk(c, tables[0], ctx, chunk))},
				{name + " (contiguous)", benchOf(AttentionPrefillChunk(cc, ct[0], ctx, chunk))},
			}, reps)
			s.add(figure(Result{Name: name, Unit: "tok/s", BaselineName: "same kernel over contiguous K/V", Better: "higher",
				Note: fmt.Sprintf("last %d tokens of a %d-token sequence, 32 query heads over 8 KV heads × 128", chunk, ctx)},
				values(res[0], extra("tok/s")), values(res[1], extra("tok/s"))))
		}
	}
	name := "attention/prefill-2048"
	if !s.opts.want(name) {
		return nil
	}
	kernel := benchOf(AttentionPrefill(2048))
	if path := attention.Path(); !s.opts.Short && path != "portable" {
		res := s.rounds([]measurement{{name, kernel}, {name + " (portable path)", onPath("portable", kernel)}}, reps)
		s.add(figure(Result{Name: name + "-vs-portable", Unit: "tok/s", BaselineName: "same call on the portable (Go) kernel path",
			Better: "higher", Note: "selected path: " + path}, values(res[0], extra("tok/s")), values(res[1], extra("tok/s"))))
	}
	vals := values(s.rounds([]measurement{{name, kernel}}, reps)[0], extra("tok/s"))
	res := Result{Name: name, Unit: "tok/s", BaselineName: "float64 reference", Better: "higher"}
	var ref float64
	if s.opts.Short {
		ref = s.bench(name+" (reference at 512)", ReferencePrefill(512)).Extra["tok/s"] / 4 // cost grows with the square of the length
		res.Note = "reference measured at 512 tokens, scaled by (512/2048)"
	} else {
		ref = s.bench(name+" (reference)", ReferencePrefill(2048)).Extra["tok/s"]
	}
	refs := make([]float64, len(vals))
	for i := range refs {
		refs[i] = ref
	}
	s.add(figure(res, vals, refs))
	return nil
}
