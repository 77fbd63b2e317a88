package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/sim"
	"github.com/pagedkv/pagedkv/workload"
)

// paperRef holds the vLLM paper's figures for one policy (NaN-free: ok=false when the
// paper has none for this setting).
type paperRef struct {
	tokenPct, batch float64
	ok              bool
}

// paperFigures returns the paper's numbers for the run's setting, if it is one the
// paper reports: Fig. 2 (token states) and Fig. 13a (mean batch).
func paperFigures(o *options) map[string]paperRef {
	base := o.trace == "" && o.model == "opt-13b" && o.gpu == "a100-40" && o.tp == 1 && o.kvBits == 16 &&
		o.n == 1 && o.beam == 0 && o.systemPrompt == 0 && o.turns == 1
	switch {
	case base && o.workload == "sharegpt" && o.rate == 2:
		return map[string]paperRef{
			"paged@16": {96.3, 30.42, true}, sim.PolicyOrcaMax: {20.4, 7.00, true},
			sim.PolicyOrcaPow2: {26.8, 9.81, true}, sim.PolicyOrcaOracle: {38.2, 13.62, true},
		}
	case base && o.workload == "alpaca" && o.rate == 30:
		return map[string]paperRef{
			"paged@16": {0, 132.44, true}, sim.PolicyOrcaMax: {0, 7.00, true},
			sim.PolicyOrcaPow2: {0, 43.24, true}, sim.PolicyOrcaOracle: {0, 72.75, true},
		}
	}
	return nil
}

type report struct {
	Workload string        `json:"workload"`
	Model    string        `json:"model"`
	GPU      string        `json:"gpu"`
	Requests int           `json:"requests"`
	Runs     []*sim.Result `json:"runs"`
	paper    map[string]paperRef
}

func simulate(o *options, stderr io.Writer) (*report, error) {
	hw := hardware.Default()
	hw.Model, _ = hardware.LookupModel(o.model)
	hw.GPU, _ = hardware.LookupGPU(o.gpu)
	hw.TP, hw.MemUtil = o.tp, o.memUtil
	hw.KVBytesPerElem = float64(o.kvBits) / 8
	if err := hw.Validate(); err != nil {
		return nil, err
	}
	var src workload.Source
	var err error
	wl := o.workload
	if o.trace != "" {
		wl = o.trace
		src, err = workload.OpenTrace(o.trace, workload.TraceOptions{Seed: o.seed})
	} else {
		n := o.requests
		if n == 0 {
			n = max(1, int(o.rate*o.duration))
		}
		prof, _ := workload.LookupProfile(o.workload)
		src = workload.Synthetic{Profile: prof, Rate: o.rate, Requests: n, Seed: o.seed,
			N: o.n, Beam: o.beam, SystemPrompt: o.systemPrompt, SystemFraction: o.systemFrac, Turns: o.turns}.Source()
	}
	if err != nil {
		return nil, err
	}
	rep := &report{Workload: wl, Model: hw.Model.Name, GPU: hw.GPU.Name, paper: paperFigures(o)}
	type job struct {
		policy string
		bs     int
	}
	var jobs []job
	for _, p := range o.policies {
		if p == sim.PolicyPaged {
			for _, bs := range o.blockSizes {
				jobs = append(jobs, job{p, bs})
			}
		} else {
			jobs = append(jobs, job{p, 0})
		}
	}
	bar := newProgress(stderr, o.progress)
	defer bar.done()
	for i, j := range jobs {
		cfg := sim.DefaultConfig()
		cfg.Hardware, cfg.Policy, cfg.DisablePrefixCaching, cfg.ChunkedPrefill = hw, j.policy, !o.prefixCaching, o.chunked
		cfg.MaxBatchTokens, cfg.MaxSeqs, cfg.Seed = o.maxBatchTokens, o.maxSeqs, o.seed
		if j.policy == sim.PolicyPaged {
			cfg.SwapSpaceGiB = o.swapGiB
		}
		if j.bs > 0 {
			cfg.BlockSize = j.bs
		}
		label := fmt.Sprintf("%s (%d/%d)", j.policy, i+1, len(jobs))
		cfg.Progress = func(f float64) { bar.update(label, (float64(i)+f)/float64(len(jobs))) }
		r, err := sim.Run(cfg, src)
		if err != nil {
			return nil, err
		}
		rep.Requests = r.RequestsCompleted + r.RequestsRejected
		rep.Runs = append(rep.Runs, r)
	}
	return rep, nil
}

func (r *report) ref(res *sim.Result) (paperRef, bool) {
	key := res.Policy
	if res.Policy == sim.PolicyPaged {
		key = fmt.Sprintf("paged@%d", res.BlockSize)
	}
	p, ok := r.paper[key]
	return p, ok
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "kvsim: %s on %s, workload %s, %d requests\n", r.Model, r.GPU, r.Workload, r.Requests)
	if r.paper != nil {
		fmt.Fprintln(w, "(paper) = vLLM paper (Kwon et al., SOSP 2023): Fig. 2 token states, Fig. 13a mean batch")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tblock\ttoken%\t(paper)\treserved%\tint.frag%\text.frag%\tbatch\t(paper)\treq/s\ttok/s\ts/token\tpreempt\thit%\tdone\t")
	for _, res := range r.Runs {
		p, ok := r.ref(res)
		paperTok, paperBatch := "—", "—"
		if ok && p.tokenPct > 0 {
			paperTok = fmt.Sprintf("%.1f", p.tokenPct)
		}
		if ok {
			paperBatch = fmt.Sprintf("%.2f", p.batch)
		}
		block := "—"
		if res.BlockSize > 0 {
			block = fmt.Sprint(res.BlockSize)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%.1f\t%.1f\t%.1f\t%.2f\t%s\t%.2f\t%.0f\t%.3f\t%d\t%.1f\t%d\t\n",
			res.Policy, block, res.TokenStatesPct, paperTok, res.ReservedPct, res.InternalFragPct, res.ExternalFragPct,
			res.MeanBatch, paperBatch, res.ThroughputReqS, res.ThroughputTokS, res.NormalizedLatencyS,
			res.Preemptions, 100*res.PrefixHitRate, res.RequestsCompleted)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var wall float64
	for _, res := range r.Runs {
		wall += res.WallS
		if res.RequestsRejected > 0 || res.RequestsTruncated > 0 {
			fmt.Fprintf(w, "%s: %d requests rejected (too long for the model or memory), %d outputs truncated at the model's maximum length\n",
				res.Policy, res.RequestsRejected, res.RequestsTruncated)
		}
		if res.SwapOuts > 0 {
			fmt.Fprintf(w, "%s (block %d): %d of %d preemptions swapped to the host tier\n", res.Policy, res.BlockSize, res.SwapOuts, res.Preemptions)
		}
		if res.SharingSavingsPct > 0 {
			fmt.Fprintf(w, "%s (block %d): block sharing saves %.1f%% of KV blocks\n", res.Policy, res.BlockSize, res.SharingSavingsPct)
		}
	}
	fmt.Fprintf(w, "simulated in %.2fs\n", wall)
	return nil
}

// progress draws a bar on stderr once a run has lasted a second, if stderr is a
// terminal.
type progress struct {
	w     io.Writer
	on    bool
	start time.Time
	drawn bool
}

func newProgress(w io.Writer, want bool) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok && want {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(label string, frac float64) {
	if !p.on || time.Since(p.start) < time.Second {
		return
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r[%-*s] %3.0f%% %-24s", width, repeat('#', n), 100*frac, label)
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%*s\r", 64, "")
	}
}

func repeat(c byte, n int) string {
	b := make([]byte, max(0, n))
	for i := range b {
		b[i] = c
	}
	return string(b)
}
