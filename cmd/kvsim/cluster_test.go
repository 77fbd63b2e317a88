package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"
)

// The cluster JSON contract: one run per router, each with the fleet's fields and
// one entry per engine.
func TestClusterJSONContract(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	code := run([]string{"-engines", "3", "-router", "precise,approximate,load,random,round-robin", "-cache", "global",
		"-duration", horizon("120", "20"), "-system-prompt", "200", "-turns", "3", "-json", "-out", dir, "-progress=false"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var doc struct {
		Engines   int              `json:"engines"`
		CacheMode string           `json:"cache_mode"`
		Requests  int              `json:"requests"`
		Runs      []map[string]any `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	require.Equal(t, 3, doc.Engines)
	require.Equal(t, "global", doc.CacheMode)
	require.Len(t, doc.Runs, 5)
	for i, r := range doc.Runs {
		for _, k := range []string{"engines", "router", "cache_mode", "hit_rate_pct", "ttft_p90_s", "ttft_mean_s", "throughput_tok_s",
			"imbalance", "per_engine", "remote_hit_pct", "prefill_saved_pct", "ttft_p50_s", "ttft_p99_s", "router_decisions_per_s",
			"requests_completed", "index"} {
			require.Contains(t, r, k, "run %d", i)
		}
		require.Equal(t, float64(3), r["engines"])
		require.Equal(t, "global", r["cache_mode"])
		require.Len(t, r["per_engine"], 3)
		require.Equal(t, float64(doc.Requests), r["requests_completed"].(float64)+r["requests_rejected"].(float64))
		for _, e := range r["per_engine"].([]any) {
			for _, k := range []string{"engine", "requests_routed", "hit_rate_pct", "ttft_p90_s", "throughput_tok_s", "mean_outstanding"} {
				require.Contains(t, e, k)
			}
		}
	}
	require.Equal(t, "memory", doc.Runs[0]["index"], "global cache keeps an index for every router")
	for _, f := range []string{"ttft-cdf.svg", "ttft-cdf.png", "hit-rate.svg", "hit-rate.png", "load-precise.png", "load-round-robin.svg"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Positive(t, st.Size())
	}
}

// The llm-d workload prints a table per stage; the shared-prefix workload takes its
// shape from flags; one engine with a fleet flag is a fleet of one.
func TestClusterTables(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"-workload", "shared-prefix", "-groups", "6", "-prompts-per-group", "2", "-system-prompt", "800",
		"-question-len", "100", "-output-len", "20", "-stages", "4:" + horizon("20", "5") + ",8:" + horizon("10", "3"),
		"-engines", "2", "-router", "precise,random", "-per-engine", "-out", "", "-progress=false"}
	code := run(args, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	s := out.String()
	for _, want := range []string{"kvsim cluster: 2 engines of OPT-13B on A100-40GB, workload shared-prefix", "local cache, selector cost",
		"hit%", "decisions/s", "by stage", "precise p90", "random p90", "precise, per engine:", "outstanding", "e1"} {
		require.Contains(t, s, want)
	}
	out.Reset()
	code = run([]string{"-engines", "1", "-router", "load", "-requests", "20", "-out", "", "-progress=false"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "kvsim cluster: 1 engine of OPT-13B")
	require.NotContains(t, out.String(), "(paper)")
}

// -index redis runs the same fleet on Redis (miniredis here; the sim package tests
// a real redis-server too).
func TestClusterRedisIndex(t *testing.T) {
	mr := miniredis.RunT(t)
	addr := mr.Addr()
	base := []string{"-engines", "2", "-cache", "global", "-requests", horizon("60", "15"), "-rate", "4", "-system-prompt", "300",
		"-json", "-out", "", "-progress=false"}
	var mem, red, errb bytes.Buffer
	require.Equal(t, 0, run(base, &mem, &errb), errb.String())
	require.Equal(t, 0, run(append(base, "-index", "redis", "-redis-addr", addr), &red, &errb), errb.String())
	var a, b struct{ Runs []map[string]any }
	require.NoError(t, json.Unmarshal(mem.Bytes(), &a))
	require.NoError(t, json.Unmarshal(red.Bytes(), &b))
	require.Equal(t, "redis", b.Runs[0]["index"])
	for _, k := range []string{"hit_rate_pct", "ttft_p90_s", "throughput_tok_s", "per_engine"} {
		require.Equal(t, a.Runs[0][k], b.Runs[0][k], k)
	}
	mr.Close()
	errb.Reset()
	code := run(append(base, "-index", "redis", "-redis-addr", addr), &red, &errb)
	require.Equal(t, 1, code)
	require.Contains(t, errb.String(), "-index redis -redis-addr "+addr)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(errb.String()), "\n")+1, "one line")
}
