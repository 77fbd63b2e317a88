package main

import (
	"flag"
	"fmt"
	"io"
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
	swapGiB                     float64
	maxBatchTokens, maxSeqs     int
	seed                        uint64
	outDir                      string
	json, progress              bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("kvsim", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line by run; -help prints usage
	fs.StringVar(&o.workload, "workload", "sharegpt", "synthetic length profile: "+strings.Join(workload.ProfileNames(), ", "))
	fs.StringVar(&o.trace, "trace", "", "replay a trace file instead (.csv Azure 2023, .jsonl Mooncake)")
	fs.StringVar(&o.model, "model", "opt-13b", "model: "+strings.Join(hardware.ModelNames(), ", "))
	fs.StringVar(&o.gpu, "gpu", "a100-40", "GPU: "+strings.Join(hardware.GPUNames(), ", "))
	fs.IntVar(&o.tp, "tp", 1, "tensor-parallel degree")
	fs.Float64Var(&o.memUtil, "mem-util", 0.9, "fraction of GPU memory for weights and KV")
	fs.IntVar(&o.kvBits, "kv-bits", 16, "KV element size in bits: 16 or 8")
	policies := fs.String("policies", "paged,orca-max,orca-pow2,orca-oracle", "comma-separated policies: "+strings.Join(sim.PolicyNames(), ", "))
	blocks := fs.String("block-sizes", "16", "comma-separated block sizes to sweep (paged)")
	fs.Float64Var(&o.rate, "rate", 2, "Poisson arrival rate, requests/s (0: all at once)")
	fs.Float64Var(&o.duration, "duration", 3600, "seconds of arrivals (synthetic; requests = rate × duration)")
	fs.IntVar(&o.requests, "requests", 0, "number of requests (overrides -duration; required with -rate 0)")
	fs.IntVar(&o.n, "n", 1, "parallel samples per request")
	fs.IntVar(&o.beam, "beam", 0, "beam-search width (0: none)")
	fs.IntVar(&o.systemPrompt, "system-prompt", 0, "tokens of a shared system prompt")
	fs.Float64Var(&o.systemFrac, "system-frac", 1, "fraction of requests that use the system prompt")
	fs.IntVar(&o.turns, "turns", 1, "turns per multi-turn session")
	fs.BoolVar(&o.prefixCaching, "prefix-caching", true, "prefix caching (paged)")
	fs.BoolVar(&o.chunked, "chunked-prefill", false, "split prompts across iterations")
	fs.Float64Var(&o.swapGiB, "swap-gib", 0, "host memory for swapped-out KV in GiB (paged; 0: preempt by recompute)")
	fs.IntVar(&o.maxBatchTokens, "max-batch-tokens", 0, "token budget per iteration (0: max(2048, model max length))")
	fs.IntVar(&o.maxSeqs, "max-seqs", 256, "cap on running requests")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.StringVar(&o.outDir, "out", "kvsim-out", "directory for charts (SVG and PNG); empty: no charts")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of the table")
	fs.BoolVar(&o.progress, "progress", true, "progress bar on stderr when it is a terminal")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "usage: kvsim [flags]   (no flags: the vLLM paper's default experiment)")
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, err := workload.LookupProfile(o.workload); err != nil && o.trace == "" {
		return nil, fmt.Errorf("unknown -workload %q (want %s)", o.workload, strings.Join(workload.ProfileNames(), ", "))
	}
	if _, err := hardware.LookupModel(o.model); err != nil {
		return nil, fmt.Errorf("unknown -model %q (want %s)", o.model, strings.Join(hardware.ModelNames(), ", "))
	}
	if _, err := hardware.LookupGPU(o.gpu); err != nil {
		return nil, fmt.Errorf("unknown -gpu %q (want %s)", o.gpu, strings.Join(hardware.GPUNames(), ", "))
	}
	if o.kvBits != 16 && o.kvBits != 8 {
		return nil, fmt.Errorf("-kv-bits %d: want 16 or 8", o.kvBits)
	}
	for _, p := range strings.Split(*policies, ",") {
		p = strings.TrimSpace(p)
		if !validPolicy(p) {
			return nil, fmt.Errorf("unknown policy %q (want %s)", p, strings.Join(sim.PolicyNames(), ", "))
		}
		o.policies = append(o.policies, p)
	}
	for _, b := range strings.Split(*blocks, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(b))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad -block-sizes entry %q", b)
		}
		o.blockSizes = append(o.blockSizes, v)
	}
	switch {
	case o.rate < 0 || o.duration <= 0 || o.requests < 0 || o.n < 1 || o.beam < 0 || o.tp < 1 || o.turns < 1 ||
		o.systemPrompt < 0 || o.swapGiB < 0 || o.systemFrac < 0 || o.systemFrac > 1 || o.maxSeqs < 1 || o.maxBatchTokens < 0:
		return nil, fmt.Errorf("a numeric flag is out of range (see -help)")
	case o.rate == 0 && o.requests == 0 && o.trace == "":
		return nil, fmt.Errorf("-rate 0 needs -requests")
	}
	return o, nil
}

func validPolicy(p string) bool {
	for _, q := range sim.PolicyNames() {
		if p == q {
			return true
		}
	}
	return false
}
