// Command kvsim runs the KV-memory simulator. With no arguments it reproduces the vLLM
// paper's memory-waste experiment: OPT-13B on one A100-40GB, ShareGPT-like lengths,
// Poisson arrivals at 2 requests/s for one simulated hour, the paged policy (block 16)
// against the three Orca baselines; it prints a table with the paper's figures beside
// the simulated ones and writes charts into an output directory.
//
//	kvsim                                   # the default experiment
//	kvsim -json                             # one JSON object, see README
//	kvsim -trace ../shared/traces/azure2023_conv.csv -model llama-3-8b -gpu a100-80
//	kvsim -policies paged -block-sizes 8,16,32,64,128 -kv-bits 8
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code (0 ok, 1 failure, 2 bad
// usage).
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "kvsim:", err)
		return 2
	}
	report, err := simulate(opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "kvsim:", err)
		return 1
	}
	if opts.json {
		err = report.writeJSON(stdout)
	} else {
		err = report.writeTable(stdout)
	}
	if err == nil && opts.outDir != "" {
		var files []string
		if files, err = report.writeCharts(opts.outDir); err == nil && !opts.json {
			fmt.Fprintf(stdout, "\ncharts: %v\n", files)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "kvsim:", err)
		return 1
	}
	return 0
}
