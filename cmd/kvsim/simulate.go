package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/pagedkv/pagedkv/sim"
	"github.com/pagedkv/pagedkv/workload"
)

// checkDeployment checks what the flags say about the deployment: that the model
// fits on the GPUs (an input error) and that every paged block size fits in the KV
// memory (a flag error).
func (o *options) checkDeployment() error {
	if err := o.hw.Validate(); err != nil {
		return fmt.Errorf("-model %s -gpu %s -tp %d -mem-util %g (-kv-bits %d): %w", o.model, o.gpu, o.hw.TP, o.memUtil, o.kvBits, err)
	}
	if !slices.Contains(o.policies, sim.PolicyPaged) {
		return nil
	}
	for _, bs := range o.blockSizes {
		if slots := o.hw.KVSlots(); bs > slots {
			return usagef("-block-sizes entry %d is larger than the KV capacity (%d token slots of %s on %s)",
				bs, slots, o.hw.Model.Name, o.hw.GPU.Name)
		}
	}
	return nil
}

// simulate runs every requested policy (paged once per block size) over the
// workload.
func simulate(o *options, stderr io.Writer) (*report, error) {
	hw := o.hw
	src, name, err := o.source()
	if err != nil {
		return nil, err
	}
	rep := &report{Workload: name, Model: hw.Model.Name, GPU: hw.GPU.Name, context: hw.Model.MaxSeqLen, paper: paperFigures(o),
		detail: o.host.on}
	type job struct {
		policy  string
		bs      int
		hostGiB float64
	}
	var jobs []job
	for _, p := range o.policies {
		if p == sim.PolicyPaged {
			for _, bs := range o.blockSizes {
				for _, gib := range o.hostSizes() {
					jobs = append(jobs, job{p, bs, gib})
				}
			}
		} else {
			jobs = append(jobs, job{p, 0, 0})
		}
	}
	bar := newProgress(stderr, o.progress)
	defer bar.done()
	for i, j := range jobs {
		cfg := sim.Config{Hardware: hw, Policy: j.policy, BlockSize: j.bs, DisablePrefixCaching: !o.prefixCaching,
			ChunkedPrefill: o.chunked, MaxBatchTokens: o.maxBatchTokens, MaxSeqs: o.maxSeqs, Seed: o.seed,
			DisableWindowFreeing: !o.windowFreeing, GroupedEviction: o.groupedEviction}
		if j.policy == sim.PolicyPaged {
			cfg.SwapSpaceGiB = o.swapGiB
			o.setHostCache(&cfg, j.hostGiB)
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
	if !rep.anyRan() {
		r := rep.Runs[0]
		return nil, fmt.Errorf("nothing ran: all %s were rejected (%d with prompts not shorter than %s's %d-token context, "+
			"%d too large for its KV memory)", plural(rep.Requests, "request"), r.RequestsTooLong, hw.Model.Name,
			hw.Model.MaxSeqLen, r.RequestsRejected-r.RequestsTooLong)
	}
	return rep, nil
}

// source returns the workload's source and its name for the report.
func (o *options) source() (workload.Source, string, error) {
	if o.trace != "" {
		src, err := workload.OpenTrace(o.trace, workload.TraceOptions{Seed: o.seed})
		if err == nil && o.requests > 0 { // the trace's first requests
			src = workload.Take(src, o.requests)
		}
		return src, o.trace, err
	}
	if o.isSharedPrefix() {
		return o.cl.sharedPrefix.Source(), o.workload, nil
	}
	n := o.requests
	if n == 0 {
		n = max(1, int(o.rate*o.duration))
	}
	s := workload.Synthetic{Profile: o.profile, Rate: o.rate, Requests: n, Seed: o.seed,
		N: o.n, Beam: o.beam, SystemPrompt: o.systemPrompt, SystemFraction: o.systemFrac, Turns: o.turns}
	if o.systemFrac == 0 { // Synthetic reads a zero fraction as its default, 1
		s.SystemPrompt = 0
	}
	return s.Source(), o.workload, nil
}

// plural returns "1 request" or "n requests".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
