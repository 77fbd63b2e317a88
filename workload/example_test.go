package workload_test

import (
	"fmt"
	"strings"

	"github.com/pagedkv/pagedkv/workload"
)

// A synthetic workload streams its requests in arrival order.
func ExampleSynthetic_Source() {
	src := workload.Synthetic{Profile: workload.Alpaca(), Rate: 4, Requests: 3, Seed: 1, Turns: 1}.Source()
	for r, err := range src {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("request %d at %.2fs: %d prompt tokens, %d to generate\n", r.ID, r.Arrival, len(r.Prompt), r.OutputLen)
	}
	// Output:
	// request 0 at 0.35s: 23 prompt tokens, 210 to generate
	// request 1 at 0.36s: 11 prompt tokens, 28 to generate
	// request 2 at 0.54s: 16 prompt tokens, 43 to generate
}

// A trace row that is out of range is an error naming the file and line.
func ExampleParseMooncake() {
	rows := `{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [7, 8]}
{"timestamp": 1e308, "input_length": 6, "output_length": 5, "hash_ids": [9]}
`
	for r, err := range workload.ParseMooncake(strings.NewReader(rows), "trace.jsonl", workload.TraceOptions{}) {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println("request", r.ID, "with", len(r.Prompt), "tokens")
	}
	// Output:
	// request 0 with 600 tokens
	// workload: invalid input: trace.jsonl:2: arrival 1e+305 s not in [0, 1e+08] s
}

// llm-d's 37-capacity benchmark workload: 83 groups of an 8,000-token shared prefix,
// 3 questions each, on a ladder of constant-rate stages.
func ExampleLLMD37Capacity() {
	w := workload.LLMD37Capacity()
	reqs, err := workload.Collect(w.Source())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(reqs), "requests of", len(reqs[0].Prompt), "prompt tokens;", len(w.Stages), "stages starting at", w.StageStarts()[:3], "...")
	// Output:
	// 6810 requests of 9000 prompt tokens; 10 stages starting at [0 25 235] ...
}
