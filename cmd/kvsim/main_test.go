package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSONContract(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	code := run([]string{"-duration", "120", "-json", "-out", dir, "-policies", "paged,orca-max,orca-pow2,orca-oracle,static", "-block-sizes", "16,32"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var doc struct {
		Runs []map[string]any `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	require.Len(t, doc.Runs, 6)
	for _, r := range doc.Runs {
		for _, k := range []string{"policy", "block_size", "token_states_pct", "reserved_pct", "internal_frag_pct",
			"external_frag_pct", "mean_batch", "throughput_req_s", "throughput_tok_s", "normalized_latency_s",
			"preemptions", "prefix_hit_rate", "requests_completed"} {
			require.Contains(t, r, k)
		}
		require.Equal(t, float64(240), r["requests_completed"])
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

func TestTableShowsPaperFigures(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-duration", "300", "-out", ""}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	s := out.String()
	for _, want := range []string{"token%", "(paper)", "96.3", "20.4", "26.8", "38.2", "30.42", "orca-oracle"} {
		require.Contains(t, s, want)
	}
}

func TestBadInputIsOneLineAndNonZero(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1]}`+"\n{oops\n"), 0o644))
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-policies", "lru"}, 2, "unknown policy"},
		{[]string{"-model", "gpt-5"}, 2, "unknown -model"},
		{[]string{"-kv-bits", "4"}, 2, "kv-bits"},
		{[]string{"-rate", "-1"}, 2, "out of range"},
		{[]string{"stray"}, 2, "unexpected argument"},
		{[]string{"-rate", "abc"}, 2, "invalid value"},
		{[]string{"-no-such-flag"}, 2, "not defined"},
		{[]string{"-trace", bad}, 1, "bad.jsonl:2"},
		{[]string{"-trace", "/nonexistent.csv"}, 1, "nonexistent"},
		{[]string{"-model", "llama-2-70b"}, 1, "GiB for KV"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		require.Equal(t, c.code, code, "%v: %s", c.args, errb.String())
		msg := strings.TrimSpace(errb.String())
		require.Contains(t, msg, c.want, c.args)
		require.NotContains(t, msg, "\n", "one line: %q", msg)
	}
}
