package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pagedkv/pagedkv/attention"
	"github.com/pagedkv/pagedkv/workload"
)

// Result is one figure beside its limit or baseline. Ratio is Value / Baseline;
// Better says which direction is good for Value.
type Result struct {
	Name         string  `json:"name"`
	Unit         string  `json:"unit"`
	Value        float64 `json:"value"`
	Baseline     float64 `json:"baseline"`
	Ratio        float64 `json:"ratio"`
	BaselineName string  `json:"baseline_name"`
	Better       string  `json:"better"` // "lower" or "higher"
	Note         string  `json:"note,omitempty"`
}

// Options select what the suite runs.
type Options struct {
	// Short runs a reduced suite (under a minute): fewer trace prompts, no 16K
	// attention context, the reference prefill at 512 tokens scaled to 2,048.
	Short bool
	// Only, if set, runs only figures whose name starts with one of these prefixes.
	Only []string
	// Progress, if set, is told each figure's name before it runs.
	Progress func(name string)
}

func (o Options) want(name string) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, p := range o.Only {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

type suite struct {
	opts Options
	out  []Result
}

func (s *suite) add(r Result) {
	if r.Baseline != 0 {
		r.Ratio = r.Value / r.Baseline
	}
	s.out = append(s.out, r)
}

func (s *suite) bench(name string, f func(*testing.B)) testing.BenchmarkResult {
	if s.opts.Progress != nil {
		s.opts.Progress(name)
	}
	return testing.Benchmark(f)
}

func nsPer(r testing.BenchmarkResult, per float64) float64 { return float64(r.NsPerOp()) / per }

func gbps(r testing.BenchmarkResult) float64 {
	return float64(r.Bytes) * float64(r.N) / r.T.Seconds() / 1e9
}

// Run measures every figure and returns them in a stable order.
func Run(opts Options) ([]Result, error) {
	s := &suite{opts: opts}
	for _, n := range []int{1, 64} {
		name := fmt.Sprintf("pool/alloc-release-%d", n)
		if !opts.want(name) {
			continue
		}
		v := s.bench(name, PoolAllocRelease(n))
		base := s.bench(name+" (baseline)", SimplePoolAllocRelease(n))
		s.add(Result{Name: name, Unit: "ns/block", Value: nsPer(v, float64(n)), Baseline: nsPer(base, float64(n)),
			BaselineName: "slice free list + map ref counts", Better: "lower"})
	}
	for _, n := range []int{256, 1024} {
		name := fmt.Sprintf("manager/decode-step-%d", n)
		if !opts.want(name) {
			continue
		}
		v := s.bench(name, ManagerDecodeStep(n))
		base := s.bench(name+" (baseline)", SimpleManagerDecodeStep(n))
		us := nsPer(v, 1000)
		s.add(Result{Name: name, Unit: "µs/step", Value: us, Baseline: nsPer(base, 1000),
			BaselineName: "maps + slice baseline manager", Better: "lower"})
		// 65,536 context tokens in all (32 GiB of Llama-2-7B KV, what fits beside the
		// weights on an A100-80GB), split over the batch.
		gpu := GPUDecodeStepSeconds(n, 65536/n) * 1e6
		s.add(Result{Name: name + "-vs-gpu", Unit: "µs/step", Value: us, Baseline: gpu,
			BaselineName: "GPU decode step, Llama-2-7B on A100-80GB, 64K context tokens (sim time model)", Better: "lower"})
	}
	if name := "manager/admission-mooncake"; opts.want(name) {
		if err := s.admission(name); err != nil {
			return s.out, err
		}
	}
	if name := "beam/width-4-step"; opts.want(name) {
		v := s.bench(name, BeamSearch4)
		base := s.bench(name+" (baseline)", SimpleBeamSearch4)
		s.add(Result{Name: name, Unit: "µs/step", Value: nsPer(v, 1000), Baseline: nsPer(base, 1000),
			BaselineName: "maps + slice baseline manager", Better: "lower"})
	}
	if err := s.attentionDecode(); err != nil {
		return s.out, err
	}
	if err := s.attentionPrefillChunks(); err != nil {
		return s.out, err
	}
	if name := "attention/prefill-2048"; opts.want(name) {
		v := s.bench(name, AttentionPrefill(2048))
		res := Result{Name: name, Unit: "tok/s", Value: v.Extra["tok/s"], BaselineName: "float64 reference", Better: "higher"}
		if opts.Short {
			ref := s.bench(name+" (reference at 512)", ReferencePrefill(512))
			res.Baseline = ref.Extra["tok/s"] / 4 // cost grows with the square of the length
			res.Note = "reference measured at 512 tokens, scaled by (512/2048)"
		} else {
			res.Baseline = s.bench(name+" (reference)", ReferencePrefill(2048)).Extra["tok/s"]
		}
		s.add(res)
	}
	return s.out, nil
}

func (s *suite) admission(name string) error {
	path := filepath.Join(workload.TracesDir(), "mooncake_conversation_trace.jsonl")
	if _, err := os.Stat(path); err != nil {
		s.add(Result{Name: name, Unit: "prompts/s", Note: "skipped: trace not found (set PAGEDKV_TRACES)"})
		return nil
	}
	reqs, err := workload.LoadTrace(path, workload.TraceOptions{Seed: 1})
	if err != nil {
		return err
	}
	n := len(reqs)
	if s.opts.Short {
		n = 2000
	}
	prompts := make([][]int32, n)
	for i := range prompts {
		prompts[i] = reqs[i].Prompt
	}
	// 200K blocks of 16 tokens: a 3.2M-token cache, Mooncake's per-node local cache.
	const blocks = 200_000
	v := s.bench(name, AdmissionReplay(prompts, blocks))
	base := s.bench(name+" (baseline)", SimpleAdmissionReplay(prompts, blocks))
	note := fmt.Sprintf("%d prompts, 3.2M-token cache", n)
	s.add(Result{Name: name, Unit: "prompts/s", Value: v.Extra["prompts/s"], Baseline: base.Extra["prompts/s"],
		BaselineName: "maps + slice baseline manager", Better: "higher", Note: note})
	s.add(Result{Name: name + "-hit-rate", Unit: "%", Value: 100 * v.Extra["hit-rate"], Baseline: 40,
		BaselineName: "trace's cache ratio, infinite cache (Mooncake FAST'25 Table 2)", Better: "higher", Note: note})
	return nil
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
	var stream float64
	streamFor := func() float64 {
		if stream == 0 {
			stream = gbps(s.bench("attention/stream-read", StreamRead(2*32*4096*attKV*attDim*4)))
			s.add(Result{Name: "attention/stream-read", Unit: "GB/s", Value: stream, Baseline: stream,
				BaselineName: "plain sum over 1 GiB, all cores", Better: "higher"})
		}
		return stream
	}
	f32Time := map[string]float64{}
	for _, sh := range shapes {
		for _, dt := range []attention.DType{attention.Float32, attention.BFloat16, attention.FP8E4M3} {
			name := fmt.Sprintf("attention/decode-%s-%v", sh.label, dt)
			if !s.opts.want(name) {
				continue
			}
			limit := streamFor()
			c, tables, err := AttentionCache(dt, sh.seqs, sh.ctx, 16)
			if err != nil {
				return err
			}
			r := s.bench(name, AttentionDecode(c, tables, sh.ctx))
			s.add(Result{Name: name, Unit: "GB/s", Value: gbps(r), Baseline: limit,
				BaselineName: "streaming read bandwidth", Better: "higher",
				Note: fmt.Sprintf("%d seqs × %d tokens, 8 KV heads × 128, GQA 4", sh.seqs, sh.ctx)})
			t := float64(r.NsPerOp())
			if dt == attention.Float32 {
				f32Time[sh.label] = t
			} else if ft := f32Time[sh.label]; ft > 0 {
				ideal := 4.0 / float64(dt.Size())
				s.add(Result{Name: name + "-speedup", Unit: "× vs float32", Value: ft / t, Baseline: ideal,
					BaselineName: "bytes saved (ideal speedup)", Better: "higher"})
			}
			if sh.label == "4k" {
				cc, ct, err := AttentionCache(dt, sh.seqs, sh.ctx, sh.ctx)
				if err != nil {
					return err
				}
				cr := s.bench(name+"-vs-contiguous", AttentionDecode(cc, ct, sh.ctx))
				s.add(Result{Name: name + "-vs-contiguous", Unit: "GB/s", Value: gbps(r), Baseline: gbps(cr),
					BaselineName: "same kernel over contiguous K/V", Better: "higher"})
			}
		}
	}
	return nil
}

// attentionPrefillChunks measures a 512-token prefill chunk over 1K, 4K (and 16K)
// contexts per element type, beside the same kernel over contiguous K/V.
func (s *suite) attentionPrefillChunks() error {
	const chunk = 512
	ctxs := []int{1024, 4096, 16384}
	if s.opts.Short {
		ctxs = ctxs[:2]
	}
	for _, ctx := range ctxs {
		for _, dt := range []attention.DType{attention.Float32, attention.BFloat16, attention.FP8E4M3} {
			name := fmt.Sprintf("attention/prefill-chunk512-%dk-%v", ctx/1024, dt)
			if !s.opts.want(name) {
				continue
			}
			c, tables, err := AttentionCache(dt, 1, ctx, 16)
			if err != nil {
				return err
			}
			r := s.bench(name, AttentionPrefillChunk(c, tables[0], ctx, chunk))
			cc, ct, err := AttentionCache(dt, 1, ctx, ctx)
			if err != nil {
				return err
			}
			cr := s.bench(name+" (contiguous)", AttentionPrefillChunk(cc, ct[0], ctx, chunk))
			s.add(Result{Name: name, Unit: "tok/s", Value: r.Extra["tok/s"], Baseline: cr.Extra["tok/s"],
				BaselineName: "same kernel over contiguous K/V", Better: "higher",
				Note: fmt.Sprintf("last %d tokens of a %d-token sequence, 32 query heads over 8 KV heads × 128", chunk, ctx)})
		}
	}
	return nil
}
