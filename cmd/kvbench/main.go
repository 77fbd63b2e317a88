// Command kvbench runs pagedkv's performance suite (package bench) and prints every
// figure beside its limit or baseline, measured in the same run.
//
//	GOEXPERIMENT=simd go run ./cmd/kvbench   # full suite with AVX-512 kernels (a few minutes)
//	kvbench -short     # under a minute
//	kvbench -json      # {"results": [{"name", "unit", "value", "baseline", "ratio", ...}]}
//	kvbench -only attention/decode-4k
//	kvbench -reps 7    # interleaved rounds per attention figure (default 5, -short 3)
//
// Attention figures are measured in interleaved rounds (A B C A B C …): value and
// baseline are medians, ratio is the median of the per-round ratios and spread is
// that ratio's (max − min) / median. PAGEDKV_ATTN_PATH=portable|avx2 selects the
// attention kernels (default: the fastest this CPU runs).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/pagedkv/pagedkv/attention"
	"github.com/pagedkv/pagedkv/bench"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kvbench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	short := fs.Bool("short", false, "reduced suite that finishes in under a minute")
	asJSON := fs.Bool("json", false, "print one JSON object")
	only := fs.String("only", "", "comma-separated name prefixes to run (default: all)")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	reps := fs.Int("reps", 0, "interleaved rounds per attention figure (0: 5, or 3 with -short)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintln(stderr, "kvbench:", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kvbench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *reps < 0 {
		fmt.Fprintln(stderr, "kvbench: -reps must be ≥ 0")
		return 2
	}
	opts := bench.Options{Short: *short, Reps: *reps}
	if *only != "" {
		opts.Only = strings.Split(*only, ",")
	}
	if !*quiet {
		opts.Progress = func(name string) { fmt.Fprintln(stderr, "running", name) }
	}
	res, err := bench.Run(opts)
	if err != nil {
		fmt.Fprintln(stderr, "kvbench:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"results": res, "gomaxprocs": runtime.GOMAXPROCS(0),
			"attention_vectors": attention.Implementation()}); err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "kvbench: %d cores, attention vectors: %s\n\n", runtime.GOMAXPROCS(0), attention.Implementation())
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tunit\tvalue\tbaseline / limit\tratio\tspread\tbetter\tbaseline is")
	for _, r := range res {
		sp := "—"
		if r.Reps > 0 {
			sp = fmt.Sprintf("±%.0f%% (%d)", 50*r.Spread, r.Reps)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3g\t%s\t%s\t%s\n", r.Name, r.Unit, num(r.Value), num(r.Baseline), r.Ratio, sp, r.Better, r.BaselineName)
	}
	_ = tw.Flush()
	for _, r := range res {
		if r.Note != "" {
			fmt.Fprintf(stdout, "%s: %s\n", r.Name, r.Note)
		}
	}
	return 0
}

func num(v float64) string {
	switch {
	case v == 0:
		return "—"
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}
