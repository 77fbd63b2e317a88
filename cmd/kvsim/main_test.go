package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// horizon returns full, or short under the race detector.
func horizon(full, short string) string {
	if raceOn {
		return short
	}
	return full
}

func TestJSONContract(t *testing.T) {
	var out, errb bytes.Buffer
	dir := filepath.Join(t.TempDir(), "not", "yet") // created after the run
	dur := horizon("120", "20")
	code := run([]string{"-duration", dur, "-json", "-out", dir, "-policies", "paged,orca-max,orca-pow2,orca-oracle,static", "-block-sizes", "16,32"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var doc struct {
		Requests int              `json:"requests"`
		Runs     []map[string]any `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	require.Len(t, doc.Runs, 6)
	want := 2 * map[string]int{"120": 120, "20": 20}[dur]
	require.Equal(t, want, doc.Requests)
	for _, r := range doc.Runs {
		for _, k := range []string{"policy", "block_size", "token_states_pct", "reserved_pct", "internal_frag_pct",
			"external_frag_pct", "mean_batch", "throughput_req_s", "throughput_tok_s", "normalized_latency_s",
			"preemptions", "prefix_hit_rate", "requests_completed", "requests_rejected", "requests_too_long",
			"iterations", "simulated_s"} {
			require.Contains(t, r, k)
		}
		require.Equal(t, float64(want), r["requests_completed"])
	}
	require.Equal(t, "paged", doc.Runs[0]["policy"])
	require.Equal(t, float64(32), doc.Runs[1]["block_size"])
	require.Equal(t, "static", doc.Runs[5]["policy"])
	for _, f := range []string{"memory-breakdown.svg", "memory-breakdown.png", "batch-over-time.svg", "batch-over-time.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Positive(t, st.Size())
	}
}

// The default experiment prints the paper's figures beside the simulated ones.
func TestTableShowsPaperFigures(t *testing.T) {
	if raceOn {
		t.Skip("the one-hour default experiment runs without -race (.ci/run); TestPaperSetting covers the logic")
	}
	var out, errb bytes.Buffer
	code := run([]string{"-out", ""}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	s := out.String()
	for _, want := range []string{"7200 requests", "token%", "(paper)", "96.3", "20.4", "26.8", "38.2", "30.42", "orca-oracle",
		"92.9", "30.47", "22.7", "30.1", "38.3"} {
		require.Contains(t, s, want)
	}
}

// Away from the paper's setting there are no paper columns.
func TestTableWithoutPaperFigures(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-duration", horizon("300", "30"), "-out", "", "-policies", "paged,orca-oracle"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	s := out.String()
	require.NotContains(t, s, "paper")
	require.Contains(t, s, "token%")
	require.Contains(t, s, "orca-oracle")
	out.Reset()
	code = run([]string{"-requests", "1", "-out", "", "-policies", "paged"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "workload sharegpt, 1 request\n")
}

func TestPaperSetting(t *testing.T) {
	parse := func(args ...string) *options {
		o, err := parseFlags(args, nil)
		require.NoError(t, err)
		return o
	}
	require.NotNil(t, paperFigures(parse()))
	require.NotNil(t, paperFigures(parse("-seed", "7", "-policies", "paged", "-block-sizes", "16,32", "-json", "-prefix-caching=false")))
	require.NotNil(t, paperFigures(parse("-workload", "alpaca", "-rate", "30")))
	for _, args := range [][]string{
		{"-duration", "300"}, {"-requests", "7200"}, {"-max-seqs", "128"}, {"-max-batch-tokens", "4096"},
		{"-mem-util", "0.8"}, {"-swap-gib", "1"}, {"-chunked-prefill"}, {"-kv-bits", "8"}, {"-rate", "3"},
		{"-n", "2"}, {"-beam", "2"}, {"-system-prompt", "10"}, {"-turns", "2"}, {"-gpu", "a100-80"},
		{"-workload", "alpaca"}, {"-trace", "x.csv"},
	} {
		require.Nil(t, paperFigures(parse(args...)), "%v", args)
	}
}

// TestBadInput drives every misuse kvsim must refuse: one line on stderr naming the
// flag or the trace's file:line, exit 2 for flags and 1 for input, quickly and in
// bounded memory.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	const hdr = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
	huge := write("huge.csv", hdr+"2023-11-16 18:17:03.9799600,2000000000,10\n")
	y1999 := write("y1999.csv", hdr+"2023-11-16 18:17:03.9799600,20,5\n1999-01-01 00:00:00.0000000,20,5\n")
	rejected := write("rejected.csv", hdr+"2023-11-16 18:17:03.9799600,3000,5\n2023-11-16 18:17:04.9799600,2048,5\n")
	neg := write("neg.jsonl", `{"timestamp": -5, "input_length": 10, "output_length": 2, "hash_ids": [1]}`+"\n")
	far := write("far.jsonl", `{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1]}`+"\n"+
		`{"timestamp": 1e308, "input_length": 10, "output_length": 2, "hash_ids": [1]}`+"\n")
	badJSON := write("bad.jsonl", `{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1]}`+"\n{oops\n")
	notDir := write("file", "")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		// unbounded memory
		{[]string{"-rate", "1e12"}, 2, "-rate 1e+12 × -duration 3600"},
		{[]string{"-duration", "1e9"}, 2, "-duration 1e+09"},
		{[]string{"-requests", "2000000000"}, 2, "-requests 2000000000"},
		{[]string{"-system-prompt", "100000000"}, 2, "-system-prompt 100000000"},
		{[]string{"-system-prompt", "2048"}, 2, "-system-prompt 2048: must be shorter than OPT-13B's 2048-token context"},
		{[]string{"-trace", huge}, 1, "huge.csv:2: prompt of 2000000000 tokens"},
		{[]string{"-n", "100000"}, 2, "-n 100000"},
		{[]string{"-beam", "1000"}, 2, "-beam 1000"},
		{[]string{"-turns", "1000000"}, 2, "-turns 1000000"},
		// NaN, infinities, ranges
		{[]string{"-rate", "NaN"}, 2, "-rate NaN"},
		{[]string{"-rate", "Inf"}, 2, "-rate +Inf"},
		{[]string{"-rate", "-1"}, 2, "-rate -1"},
		{[]string{"-duration", "NaN"}, 2, "-duration NaN"},
		{[]string{"-duration", "Inf"}, 2, "-duration +Inf"},
		{[]string{"-duration", "0"}, 2, "-duration 0"},
		{[]string{"-system-frac", "NaN"}, 2, "-system-frac NaN"},
		{[]string{"-tp", "3"}, 2, "-tp 3: must divide OPT-13B's 40 attention heads"},
		{[]string{"-tp", "1024"}, 2, "-tp 1024"},
		{[]string{"-tp", "0"}, 2, "-tp 0"},
		{[]string{"-swap-gib", "NaN"}, 2, "-swap-gib NaN"},
		{[]string{"-swap-gib", "1e30"}, 2, "-swap-gib 1e+30"},
		{[]string{"-block-sizes", "1048576"}, 2, "-block-sizes entry \"1048576\""},
		{[]string{"-block-sizes", "16,0"}, 2, "-block-sizes entry \"0\""},
		{[]string{"-block-sizes", "65536"}, 2, "-block-sizes entry 65536 is larger than the KV capacity"},
		{[]string{"-mem-util", "0"}, 2, "-mem-util 0"},
		{[]string{"-mem-util", "2"}, 2, "-mem-util 2"},
		{[]string{"-mem-util", "NaN"}, 2, "-mem-util NaN"},
		{[]string{"-max-seqs", "0"}, 2, "-max-seqs 0"},
		{[]string{"-max-batch-tokens", "-5"}, 2, "-max-batch-tokens -5"},
		{[]string{"-rate", "0"}, 2, "-rate 0 needs -requests"},
		{[]string{"-rate", "1e-9", "-requests", "10"}, 2, "-rate 1e-09 is too slow"},
		// trace rows
		{[]string{"-trace", y1999}, 1, "y1999.csv:3: arrival"},
		{[]string{"-trace", neg}, 1, "neg.jsonl:1: arrival -0.005 s"},
		{[]string{"-trace", far}, 1, "far.jsonl:2: arrival 1e+305 s"},
		{[]string{"-trace", badJSON}, 1, "bad.jsonl:2"},
		{[]string{"-trace", "/nonexistent.csv"}, 1, "nonexistent"},
		{[]string{"-trace", write("t.parquet", "")}, 1, "unknown trace format"},
		{[]string{"-trace", rejected}, 1, "nothing ran: all 2 requests were rejected (2 with prompts not shorter than OPT-13B's 2048-token context"},
		// output
		{[]string{"-out", filepath.Join(notDir, "charts")}, 1, "-out " + filepath.Join(notDir, "charts")},
		// names and syntax
		{[]string{"-policies", "lru"}, 2, "unknown policy \"lru\" in -policies"},
		{[]string{"-model", "gpt-5"}, 2, "unknown -model"},
		{[]string{"-gpu", "tpu"}, 2, "unknown -gpu"},
		{[]string{"-workload", "lmsys"}, 2, "unknown -workload"},
		{[]string{"-kv-bits", "4"}, 2, "-kv-bits 4"},
		{[]string{"stray"}, 2, "unexpected argument"},
		{[]string{"-rate", "abc"}, 2, "invalid value"},
		{[]string{"-no-such-flag"}, 2, "not defined"},
		{[]string{"-model", "llama-2-70b"}, 1, "GiB for KV"},
		{[]string{"-mem-util", "0.3"}, 1, "-model opt-13b -gpu a100-40 -tp 1 -mem-util 0.3 (-kv-bits 16): hardware: invalid deployment"},
		// cluster mode
		{[]string{"-engines", "0"}, 2, "-engines 0"},
		{[]string{"-engines", "100000"}, 2, "-engines 100000"},
		{[]string{"-engines", "2", "-router", "nearest"}, 2, "unknown router \"nearest\" in -router"},
		{[]string{"-engines", "2", "-selector", "best"}, 2, "unknown -selector"},
		{[]string{"-engines", "2", "-cache", "shared"}, 2, "-cache \"shared\""},
		{[]string{"-engines", "2", "-index", "etcd"}, 2, "-index \"etcd\""},
		{[]string{"-engines", "2", "-net-gbps", "0"}, 2, "-net-gbps 0"},
		{[]string{"-engines", "2", "-net-gbps", "NaN"}, 2, "-net-gbps NaN"},
		{[]string{"-engines", "2", "-cache-tokens", "-1"}, 2, "-cache-tokens -1"},
		{[]string{"-engines", "2", "-cache-tokens", "8"}, 2, "-cache-tokens 8: less than one block"},
		{[]string{"-engines", "1000", "-cache-tokens", "2000000000"}, 2, "-engines 1000 × -cache-tokens 2000000000"},
		{[]string{"-engines", "1000", "-router", "approximate", "-replica-tokens", "300000"}, 2, "-engines 1000 × -replica-tokens 300000"},
		{[]string{"-engines", "2", "-replica-tokens", "-3"}, 2, "-replica-tokens -3"},
		{[]string{"-engines", "2", "-policies", "orca-max"}, 2, "cluster mode runs the paged policy only"},
		{[]string{"-engines", "2", "-block-sizes", "16,32"}, 2, "cluster mode takes one block size"},
		{[]string{"-engines", "2", "-index", "redis", "-redis-addr", "127.0.0.1:1", "-requests", "5"}, 1, "-index redis -redis-addr 127.0.0.1:1"},
		{[]string{"-workload", "shared-prefix", "-stages", "3"}, 2, "-stages entry \"3\""},
		{[]string{"-workload", "shared-prefix", "-stages", "NaN:4"}, 2, "-stages entry \"NaN:4\""},
		{[]string{"-workload", "shared-prefix", "-stages", "1e300:1e300"}, 2, "-stages entry"},
		{[]string{"-workload", "shared-prefix", "-groups", "0"}, 2, "-groups 0"},
		{[]string{"-workload", "shared-prefix", "-groups", "100000", "-prompts-per-group", "100000"}, 2, "-workload shared-prefix"},
		{[]string{"-workload", "shared-prefix", "-system-prompt", "2000", "-question-len", "100"}, 1, "nothing ran"},
		{[]string{"-workload", "llmd-37", "-groups", "3"}, 2, "-workload llmd-37 is llm-d's benchmark as published"},
		{[]string{"-groups", "3"}, 2, "need -workload shared-prefix"},
		{[]string{"-workload", "llmd-37", "-trace", "x.csv"}, 2, "exclude each other"},
	} {
		var out, errb bytes.Buffer
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		done := make(chan int, 1)
		start := time.Now()
		go func() { done <- run(append(c.args, "-progress=false"), &out, &errb) }()
		var code int
		select {
		case code = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%v: still running after 30 s", c.args)
		}
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		require.Equal(t, c.code, code, "%v: %s", c.args, errb.String())
		msg := strings.TrimSpace(errb.String())
		require.True(t, strings.HasPrefix(msg, "kvsim: "), "%v: %q", c.args, msg)
		require.Contains(t, msg, c.want, c.args)
		require.NotContains(t, msg, "\n", "one line: %q", msg)
		require.Empty(t, out.String(), c.args)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "%v allocated too much", c.args)
		t.Logf("%-40q %d in %v: %s", strings.Join(c.args, " "), code, elapsed.Round(time.Millisecond), msg)
	}
}

// -requests with -trace replays the trace's first requests only.
func TestRequestsCapsTrace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.csv")
	body := "TIMESTAMP,ContextTokens,GeneratedTokens\n"
	for i := range 6 {
		body += fmt.Sprintf("2023-11-16 18:17:0%d.0000000,%d,5\n", i, 100+i)
	}
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, 6}, {[]string{"-requests", "2"}, 2}, {[]string{"-requests", "100"}, 6},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"-trace", p, "-policies", "paged", "-json", "-out", "", "-progress=false"}, c.args...), &out, &errb)
		require.Equal(t, 0, code, errb.String())
		var doc struct {
			Requests int              `json:"requests"`
			Runs     []map[string]any `json:"runs"`
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
		require.Equal(t, c.want, doc.Requests, "%v", c.args)
		require.Equal(t, float64(c.want), doc.Runs[0]["requests_completed"], "%v", c.args)
	}
}
