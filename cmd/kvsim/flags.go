package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pagedkv/pagedkv/hardware"
	"github.com/pagedkv/pagedkv/sim"
	"github.com/pagedkv/pagedkv/workload"
)

type options struct {
	workload, trace, model, gpu string
	tp                          int
	memUtil                     float64
	kvBits                      int
	policies                    []string
	blockSizes                  []int
	rate, duration              float64
	requests                    int
	n, beam                     int
	systemPrompt                int
	systemFrac                  float64
	turns                       int
	prefixCaching, chunked      bool
	windowFreeing               bool
	groupedEviction             bool
	swapGiB                     float64
	maxBatchTokens, maxSeqs     int
	seed                        uint64
	outDir                      string
	json, progress              bool

	profile workload.Profile
	hw      hardware.Deployment // model, GPU, TP, memory and element size from the flags
	cl      clusterOptions      // cluster mode and the shared-prefix workload (cluster_flags.go)
	host    hostCacheOptions    // the host prefix-cache tier (host_cache.go)
}

// The defaults of the flags that define the vLLM paper's setting (see paper.go).
const (
	defaultDuration = 3600
	defaultMemUtil  = 0.9
	defaultMaxSeqs  = 256
)

// usageError is a bad flag or flag value: kvsim exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// parseFlags parses and checks the flags; every error is a usageError naming the
// flag.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("kvsim", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line by run; -help prints usage
	fs.StringVar(&o.workload, "workload", "sharegpt", "synthetic workload: a length profile ("+strings.Join(workload.ProfileNames(), ", ")+
		"), "+workloadSharedPrefix+" (groups sharing a system prompt) or "+workloadLLMD37+" (llm-d's 37-capacity benchmark)")
	fs.StringVar(&o.trace, "trace", "", "replay a trace file instead ("+traceFormats()+")")
	fs.StringVar(&o.model, "model", "opt-13b", "model: "+strings.Join(hardware.ModelNames(), ", "))
	fs.StringVar(&o.gpu, "gpu", "a100-40", "GPU: "+strings.Join(hardware.GPUNames(), ", "))
	fs.IntVar(&o.tp, "tp", 1, "tensor-parallel degree (must divide the model's attention heads)")
	fs.Float64Var(&o.memUtil, "mem-util", defaultMemUtil, "fraction of GPU memory for weights and KV, in (0, 1]")
	fs.IntVar(&o.kvBits, "kv-bits", 16, "KV element size in bits: 16 or 8")
	policies := fs.String("policies", "paged,orca-max,orca-pow2,orca-oracle", "comma-separated policies: "+strings.Join(sim.PolicyNames(), ", "))
	blocks := fs.String("block-sizes", "16", fmt.Sprintf("comma-separated block sizes to sweep (paged), each in [1, %d]", sim.MaxBlockSize))
	fs.Float64Var(&o.rate, "rate", 2, "Poisson arrival rate, requests/s (0: all at once)")
	fs.Float64Var(&o.duration, "duration", defaultDuration, fmt.Sprintf("seconds of arrivals, at most %g (synthetic; requests = rate × duration)", float64(workload.MaxArrival)))
	fs.IntVar(&o.requests, "requests", 0, fmt.Sprintf("number of requests, at most %d (overrides -duration; required with -rate 0; with -trace: its first requests)", workload.MaxRequests))
	fs.IntVar(&o.n, "n", 1, fmt.Sprintf("parallel samples per request, at most %d", workload.MaxWidth))
	fs.IntVar(&o.beam, "beam", 0, fmt.Sprintf("beam-search width, at most %d (0: none)", workload.MaxWidth))
	fs.IntVar(&o.systemPrompt, "system-prompt", 0, "tokens of a shared system prompt (shorter than the model's context)")
	fs.Float64Var(&o.systemFrac, "system-frac", 1, "fraction of requests that use the system prompt, in [0, 1]")
	fs.IntVar(&o.turns, "turns", 1, fmt.Sprintf("turns per multi-turn session, at most %d", workload.MaxTurns))
	fs.BoolVar(&o.prefixCaching, "prefix-caching", true, "prefix caching (paged)")
	fs.BoolVar(&o.chunked, "chunked-prefill", false, "split prompts across iterations")
	fs.BoolVar(&o.windowFreeing, "window-freeing", true, "models with sliding-window or chunked-local layers: KV-cache groups whose windows and chunks release their blocks (paged; false: keep every block, one table)")
	fs.BoolVar(&o.groupedEviction, "grouped-eviction", false, "with window freeing: a prefix's blocks of every KV-cache group leave the prefix cache together "+
		"(default: vLLM's order, where window blocks are evicted first and take the prefix's hits with them)")
	fs.Float64Var(&o.swapGiB, "swap-gib", 0, fmt.Sprintf("host memory for swapped-out KV in GiB, at most %d (paged; 0: preempt by recompute)", sim.MaxSwapGiB))
	fs.IntVar(&o.maxBatchTokens, "max-batch-tokens", 0, "token budget per iteration (0: max(2048, model max length))")
	fs.IntVar(&o.maxSeqs, "max-seqs", defaultMaxSeqs, "cap on running requests")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.StringVar(&o.outDir, "out", "kvsim-out", "directory for charts (SVG and PNG); empty: no charts")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of the table")
	fs.BoolVar(&o.progress, "progress", true, "progress bar on stderr when it is a terminal")
	routers, stages := addClusterFlags(fs, &o.cl)
	hostGiB := addHostCacheFlags(fs, &o.host)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "usage: kvsim [flags]   (no flags: the vLLM paper's default experiment)")
			fs.PrintDefaults()
			return nil, err
		}
		return nil, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := o.resolveNames(*policies, *blocks); err != nil {
		return nil, err
	}
	if err := o.checkRanges(); err != nil {
		return nil, err
	}
	if err := o.resolveCluster(fs, *routers, *stages); err != nil {
		return nil, err
	}
	if err := o.resolveHostCache(fs, *hostGiB); err != nil {
		return nil, err
	}
	return o, nil
}

// resolveNames looks up the workload, model, GPU and policies and parses the block
// sizes.
func (o *options) resolveNames(policies, blocks string) error {
	var err error
	if o.trace == "" && !o.isSharedPrefix() {
		if o.profile, err = workload.LookupProfile(o.workload); err != nil {
			return usagef("unknown -workload %q (want %s, %s or %s)", o.workload, strings.Join(workload.ProfileNames(), ", "),
				workloadSharedPrefix, workloadLLMD37)
		}
	}
	o.hw = hardware.Default()
	if o.hw.Model, err = hardware.LookupModel(o.model); err != nil {
		return usagef("unknown -model %q (want %s)", o.model, strings.Join(hardware.ModelNames(), ", "))
	}
	if o.hw.GPU, err = hardware.LookupGPU(o.gpu); err != nil {
		return usagef("unknown -gpu %q (want %s)", o.gpu, strings.Join(hardware.GPUNames(), ", "))
	}
	for _, p := range strings.Split(policies, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(sim.PolicyNames(), p) {
			return usagef("unknown policy %q in -policies (want %s)", p, strings.Join(sim.PolicyNames(), ", "))
		}
		o.policies = append(o.policies, p)
	}
	for _, b := range strings.Split(blocks, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(b))
		if err != nil || v < 1 || v > sim.MaxBlockSize {
			return usagef("-block-sizes entry %q: want an integer in [1, %d]", strings.TrimSpace(b), sim.MaxBlockSize)
		}
		o.blockSizes = append(o.blockSizes, v)
	}
	return nil
}

// checkRanges checks every numeric flag against its documented range, naming the
// flag, and the flags that depend on the model.
func (o *options) checkRanges() error {
	if err := checkInt("-tp", o.tp, 1, hardware.MaxModelDim); err != nil {
		return err
	}
	if err := o.hw.Model.CheckTP(o.tp); err != nil {
		return usagef("-tp %d: must divide %s's %d attention heads and divide or be a multiple of its %d KV heads",
			o.tp, o.hw.Model.Name, o.hw.Model.AttentionHeads(), o.hw.Model.KVHeads)
	}
	if !(o.memUtil > 0 && o.memUtil <= 1) {
		return usagef("-mem-util %v: want a fraction in (0, 1]", o.memUtil)
	}
	if o.kvBits != 16 && o.kvBits != 8 {
		return usagef("-kv-bits %d: want 16 or 8", o.kvBits)
	}
	o.hw.TP, o.hw.MemUtil, o.hw.KVBytesPerElem = o.tp, o.memUtil, float64(o.kvBits)/8
	for _, c := range []struct {
		name      string
		v, lo, hi int
	}{
		{"-requests", o.requests, 0, workload.MaxRequests},
		{"-n", o.n, 1, workload.MaxWidth},
		{"-beam", o.beam, 0, workload.MaxWidth},
		{"-system-prompt", o.systemPrompt, 0, workload.MaxTokens},
		{"-turns", o.turns, 1, workload.MaxTurns},
		{"-max-batch-tokens", o.maxBatchTokens, 0, math.MaxInt32},
		{"-max-seqs", o.maxSeqs, 1, math.MaxInt32},
	} {
		if err := checkInt(c.name, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	if context := o.hw.Model.MaxSeqLen; o.systemPrompt >= context {
		return usagef("-system-prompt %d: must be shorter than %s's %d-token context", o.systemPrompt, o.hw.Model.Name, context)
	}
	for _, c := range []struct {
		name   string
		v      float64
		lo, hi float64
		openLo bool
	}{
		{"-rate", o.rate, 0, math.MaxFloat64, false},
		{"-duration", o.duration, 0, workload.MaxArrival, true},
		{"-system-frac", o.systemFrac, 0, 1, false},
		{"-swap-gib", o.swapGiB, 0, sim.MaxSwapGiB, false},
	} {
		if !(c.v >= c.lo && c.v <= c.hi) || c.openLo && c.v == c.lo {
			lo, hi := "[", fmt.Sprintf("%g]", c.hi)
			if c.openLo {
				lo = "("
			}
			if c.hi == math.MaxFloat64 {
				hi = "∞)"
			}
			return usagef("%s %v: want a number in %s%g, %s", c.name, c.v, lo, c.lo, hi)
		}
	}
	if o.trace != "" {
		return nil
	}
	switch n := o.rate * o.duration; {
	case o.requests > 0 && o.rate > 0 && float64(o.requests)/o.rate > workload.MaxArrival:
		return usagef("-rate %g is too slow for -requests %d: arrivals would span %.3g s (at most %g)", o.rate, o.requests,
			float64(o.requests)/o.rate, float64(workload.MaxArrival))
	case o.requests > 0:
	case o.rate == 0:
		return usagef("-rate 0 needs -requests")
	case n > workload.MaxRequests:
		return usagef("-rate %g × -duration %g = %.3g requests, more than %d: lower them or set -requests", o.rate, o.duration,
			n, workload.MaxRequests)
	}
	return nil
}

func checkInt(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return usagef("%s %d: want an integer in [%d, %d]", name, v, lo, hi)
	}
	return nil
}

// traceFormats lists the registered trace formats for the help text.
func traceFormats() string {
	var s []string
	for _, f := range workload.Formats() {
		s = append(s, strings.Join(f.Extensions, "/")+" "+f.Doc)
	}
	return strings.Join(s, "; ")
}
