// Package bench is pagedkv's performance suite: every figure is measured beside a
// limit or a baseline in the same process, so the ratio is meaningful on a noisy
// machine.
//
//   - block pool and manager against a deliberately simple baseline (free ids in a
//     slice, reference counts and the hash index in Go maps) doing the same work;
//   - the manager's decode-step cost as a fraction of one GPU decode step of
//     Llama-2-7B on an A100 at the same batch size (sim's documented time model);
//   - prefix-cache admission replaying the Mooncake conversation trace's prompts;
//   - attention decode against the machine's streaming read bandwidth, the same
//     kernel over contiguous K/V and the portable kernel path; prefill against the
//     float64 reference. These run in interleaved rounds (Options.Reps) and report
//     medians, per-round ratios and their spread.
//
// The scenarios are ordinary Go benchmarks too (go test -bench . -benchmem ./bench),
// so benchstat can compare runs; cmd/kvbench runs them all and prints the table.
package bench
