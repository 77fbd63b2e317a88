// Command kvsim runs the KV-memory simulator. With no arguments it reproduces the vLLM
// paper's memory-waste experiment: OPT-13B on one A100-40GB, ShareGPT-like lengths,
// Poisson arrivals at 2 requests/s for one simulated hour, the paged policy (block 16)
// against the three Orca baselines; it prints a table with the paper's figures beside
// the simulated ones (only in the paper's setting) and writes charts into an output
// directory.
//
//	kvsim                                   # the default experiment
//	kvsim -json                             # one JSON object, see README
//	kvsim -trace ../shared/traces/azure2023_conv.csv -model llama-3-8b -gpu a100-80
//	kvsim -policies paged -block-sizes 8,16,32,64,128 -kv-bits 8
//
// Bad input gets one line on stderr naming the flag, or the trace's file:line, and
// exit status 2 for flags, 1 for input (a trace, an unwritable -out, a deployment
// that does not fit, a workload of which nothing can run).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code (0 ok, 1 failure, 2 bad
// usage).
func run(args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, "kvsim:", err)
		var u *usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(err)
	}
	if err := opts.checkDeployment(); err != nil {
		return fail(err)
	}
	if opts.outDir != "" {
		if err := checkWritable(opts.outDir); err != nil {
			return fail(fmt.Errorf("-out %s: %w", opts.outDir, err))
		}
	}
	if opts.cl.on {
		return runCluster(opts, stdout, stderr, fail)
	}
	report, err := simulate(opts, stderr)
	if err != nil {
		return fail(err)
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
		return fail(err)
	}
	return 0
}

// checkWritable checks that dir is, or can be created as, a directory kvsim can
// write into — without creating anything — so a bad -out is reported before the
// simulation, not after.
func checkWritable(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if errors.Is(err, fs.ErrNotExist) && filepath.Dir(d) != d {
			continue // created later, if its parent allows
		}
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", d)
		}
		f, err := os.CreateTemp(d, ".kvsim-check-*")
		if err != nil {
			return fmt.Errorf("cannot write in %s: %w", d, err)
		}
		name := f.Name()
		f.Close()
		return os.Remove(name)
	}
}
