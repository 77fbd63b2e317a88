package bench

import (
	"fmt"

	"github.com/pagedkv/pagedkv/attention"
)

// The attention figures. Each is measured in interleaved rounds (Options.Reps) beside
// its baseline: Value and Baseline are medians over the rounds, Ratio the median of
// the per-round ratios, Spread that ratio's relative range.

var attentionTypes = []attention.DType{attention.Float32, attention.BFloat16, attention.FP8E4M3}

// onPath runs f with the kernels on the given path (attention.SetPath), then restores
// the path that was selected.
func onPath(path string, f func() float64) func() float64 {
	return func() float64 {
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
			ms = append(ms, measurement{name, gbpsOf(AttentionDecode(c, tables, sh.ctx))})
			types = append(types, dt)
		}
		if len(ms) == 0 {
			continue
		}
		// The streaming bandwidth is measured in every shape's rounds, so each
		// figure's limit comes from the same moments.
		ms = append(ms, measurement{"attention/stream-read", gbpsOf(StreamRead(2 * 32 * 4096 * attKV * attDim * 4))})
		vals := s.rounds(ms, reps)
		stream := vals[len(vals)-1]
		if !streamDone {
			streamDone = true
			s.add(Result{Name: "attention/stream-read", Unit: "GB/s", Value: median(stream), Baseline: median(stream),
				Ratio: 1, Reps: reps, Spread: spread(stream), BaselineName: "plain sum over 1 GiB, all cores", Better: "higher"})
		}
		var f32 []float64
		for i, dt := range types {
			name := ms[i].name
			s.add(figure(Result{Name: name, Unit: "GB/s", BaselineName: "streaming read bandwidth (same rounds)", Better: "higher",
				Note: fmt.Sprintf("%d seqs × %d tokens, 8 KV heads × 128, GQA 4, block 16, shuffled tables", sh.seqs, sh.ctx)}, vals[i], stream))
			if dt == attention.Float32 {
				f32 = vals[i]
				continue
			}
			if f32 == nil {
				continue
			}
			// tokens/s is GB/s over bytes per element
			size, ideal := float64(dt.Size()), 4/float64(dt.Size())
			sp := perRound(vals[i], f32, func(a, b float64) float64 { return (a / size) / (b / 4) })
			s.add(Result{Name: name + "-speedup", Unit: "× vs float32", Value: median(sp), Baseline: ideal,
				Ratio: median(sp) / ideal, Reps: reps, Spread: spread(sp),
				BaselineName: "bytes saved (ideal speedup in tokens/s)", Better: "higher"})
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
		vals := s.rounds([]measurement{{name, gbpsOf(paged)}, {name + " (contiguous)", gbpsOf(AttentionDecode(cc, ct, ctx))}}, reps)
		s.add(figure(Result{Name: name + "-vs-contiguous", Unit: "GB/s", BaselineName: "same kernel over contiguous K/V", Better: "higher"}, vals[0], vals[1]))
		cc, ct = nil, nil
		release()
		if path := attention.Path(); !s.opts.Short && path != "portable" {
			vals := s.rounds([]measurement{{name, gbpsOf(paged)}, {name + " (portable path)", onPath("portable", gbpsOf(paged))}}, reps)
			s.add(figure(Result{Name: name + "-vs-portable", Unit: "GB/s", BaselineName: "same call on the portable (Go) kernel path",
				Better: "higher", Note: "selected path: " + path}, vals[0], vals[1]))
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
			vals := s.rounds([]measurement{
				{name, extraOf(AttentionPrefillChunk(c, tables[0], ctx, chunk), "tok/s")},
				{name + " (contiguous)", extraOf(AttentionPrefillChunk(cc, ct[0], ctx, chunk), "tok/s")},
			}, reps)
			s.add(figure(Result{Name: name, Unit: "tok/s", BaselineName: "same kernel over contiguous K/V", Better: "higher",
				Note: fmt.Sprintf("last %d tokens of a %d-token sequence, 32 query heads over 8 KV heads × 128", chunk, ctx)}, vals[0], vals[1]))
		}
	}
	name := "attention/prefill-2048"
	if !s.opts.want(name) {
		return nil
	}
	kernel := extraOf(AttentionPrefill(2048), "tok/s")
	if path := attention.Path(); !s.opts.Short && path != "portable" {
		vals := s.rounds([]measurement{{name, kernel}, {name + " (portable path)", onPath("portable", kernel)}}, reps)
		s.add(figure(Result{Name: name + "-vs-portable", Unit: "tok/s", BaselineName: "same call on the portable (Go) kernel path",
			Better: "higher", Note: "selected path: " + path}, vals[0], vals[1]))
	}
	vals := s.rounds([]measurement{{name, kernel}}, reps)[0]
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
