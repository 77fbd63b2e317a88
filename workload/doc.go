// Package workload is where the simulator's and the benchmark suite's requests come
// from: synthetic workloads drawn from published length profiles, the shared-prefix
// workload of inference-perf that llm-d's routing benchmarks use (SharedPrefix, and
// its 37-capacity preset LLMD37Capacity), and public traces (Azure LLM inference
// 2023 CSV, Mooncake FAST'25 JSONL).
//
// It sits at the bottom of the stack beside attention: it imports no pagedkv package,
// and sim, bench, cmd/kvsim and cmd/kvctl (its simulated engine) import it, so none
// of them needs another to read a trace.
//
// Every workload is a Source: an iterator that yields one Request at a time in
// arrival order, so a consumer holds only the requests it is serving, whatever the
// workload's length. Sources are deterministic and can be ranged again from the
// start.
//
//	src := workload.Synthetic{Profile: workload.ShareGPT(), Rate: 2, Requests: 7200, Seed: 1}.Source()
//	for r, err := range src {
//		if err != nil { ... }         // a bad description, or a trace's "file:line: ..." error
//		use(r.Arrival, r.Prompt, r.OutputLen)
//	}
//
//	trace, err := workload.OpenTrace(filepath.Join(workload.TracesDir(), "azure2023_conv.csv"),
//		workload.TraceOptions{Seed: 1})
//
// # Trace formats
//
// A trace format is a Parser — a function from a reader to a Source — registered
// under its file extensions by the file that implements it (azure.go, mooncake.go):
// adding a format is adding a file whose init calls Register. OpenTrace picks the
// parser by extension.
//
// # Limits
//
// Sources check what they yield against documented limits (MaxTokens per prompt and
// output, MaxArrival, MaxWidth, MaxRequests and MaxTurns for synthetic workloads), so
// no flag or trace row can make a consumer allocate without bound: a row with a
// two-billion-token prompt is an error naming its file and line, found before its
// prompt is built.
package workload
