package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostCacheArgs is a small multi-turn workload whose later turns the default
// deployment's device cache has often evicted: a host tier finds them.
func hostCacheArgs(extra ...string) []string {
	return append([]string{"-workload", "sharegpt", "-turns", "4", "-rate", "2", "-requests", horizon("200", "60"),
		"-policies", "paged", "-out", "", "-progress=false"}, extra...)
}

// -host-cache-gib sweeps the tier: one run per size, each with the cache by tier in
// the JSON (hit rate = device + host, growing with the tier) and a second table.
func TestHostCacheSweep(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(hostCacheArgs("-host-cache-gib", "0,2,8", "-json"), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var doc struct {
		Runs []map[string]any `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	require.Len(t, doc.Runs, 3)
	prevHit := -1.0
	for i, r := range doc.Runs {
		gib := []float64{0, 2, 8}[i]
		require.Equal(t, gib, r["host_cache_gib"])
		require.Equal(t, map[bool]string{true: "off", false: "write-back"}[gib == 0], r["host_cache_policy"])
		hit, dev, host := r["hit_rate_pct"].(float64), r["device_hit_pct"].(float64), r["host_hit_pct"].(float64)
		require.InDelta(t, hit, dev+host, 1e-9)
		require.InDelta(t, 100*r["prefix_hit_rate"].(float64), hit, 1e-9)
		if gib == 0 {
			require.Zero(t, host)
			require.Zero(t, r["onloaded_blocks"])
		} else {
			require.Positive(t, host)
			require.Positive(t, r["onloaded_blocks"])
			require.Greater(t, hit, prevHit, "a larger tier finds more")
		}
		for _, k := range []string{"host_cache_tokens", "cache_tokens", "prefill_saved_pct", "offloaded_blocks", "host_copy_s",
			"ttft_mean_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "async_offload"} {
			require.Contains(t, r, k)
		}
		prevHit = hit
	}

	out.Reset()
	errb.Reset()
	code = run(hostCacheArgs("-host-cache-gib", "4", "-host-cache-policy", "write-through-selective", "-host-cache-min-hits", "2",
		"-host-cache-async-offload"), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "prefix cache (hit% = device% + host%")
	require.Contains(t, out.String(), "4 write-through-selective async")
	require.Contains(t, out.String(), "paged +host 4 write-through-selective async", "the main table names the tier")

	// A sweep's rows are told apart; the runs' shared notes are printed once.
	out.Reset()
	code = run(hostCacheArgs("-host-cache-gib", "0,2"), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Regexp(t, `(?m)^ +paged +16 `, out.String())
	require.Regexp(t, `(?m)^ +paged \+host 2 +16 `, out.String())
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "paged") {
			require.Equal(t, 1, strings.Count(out.String(), line+"\n"), "note %q printed more than once", line)
		}
	}
}

// Without a host-cache flag the JSON keeps its earlier form: no cache-detail fields.
func TestHostCacheFieldsOnlyWithFlags(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(hostCacheArgs("-json"), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	for _, k := range []string{"host_cache_gib", "hit_rate_pct", "ttft_p90_s", "onloaded_blocks"} {
		require.NotContains(t, out.String(), `"`+k+`"`)
	}
	out.Reset()
	code = run(hostCacheArgs(), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.NotContains(t, out.String(), "prefix cache (hit%")
}

// Every misuse of the host-cache flags is refused before simulating: exit 2, one
// line naming the flag.
func TestHostCacheBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-host-cache-gib", "NaN"}, "-host-cache-gib entry \"NaN\""},
		{[]string{"-host-cache-gib", "-1"}, "-host-cache-gib entry \"-1\""},
		{[]string{"-host-cache-gib", "1e30"}, "-host-cache-gib entry \"1e30\""},
		{[]string{"-host-cache-gib", "2,x"}, "-host-cache-gib entry \"x\""},
		{[]string{"-host-cache-gib", "2", "-host-cache-policy", "lru"}, "unknown -host-cache-policy \"lru\""},
		{[]string{"-host-cache-policy", "write-through"}, "need -host-cache-gib"},
		{[]string{"-host-cache-async-offload"}, "need -host-cache-gib"},
		{[]string{"-host-cache-gib", "2", "-host-cache-min-hits", "-1"}, "-host-cache-min-hits -1"},
		{[]string{"-host-cache-gib", "2", "-host-cache-min-hits", "2"}, "needs -host-cache-policy write-through-selective"},
		{[]string{"-host-cache-gib", "2", "-prefix-caching=false"}, "needs prefix caching"},
		{[]string{"-host-cache-gib", "2", "-model", "gemma-2-9b", "-gpu", "a100-80"}, "needs -window-freeing=false"},
		{[]string{"-engines", "2", "-host-cache-gib", "2"}, "cluster mode sizes each engine's host tier with -cache-tokens"},
		{[]string{"-engines", "2", "-host-cache-policy", "write-through"}, "need a host tier"},
	} {
		var out, errb bytes.Buffer
		code := run(append(c.args, "-progress=false", "-out", ""), &out, &errb)
		msg := strings.TrimSpace(errb.String())
		require.Equal(t, 2, code, "%v: %s", c.args, msg)
		require.True(t, strings.HasPrefix(msg, "kvsim: "), "%v: %q", c.args, msg)
		require.Contains(t, msg, c.want, c.args)
		require.NotContains(t, msg, "\n", "one line: %q", msg)
		require.Empty(t, out.String(), c.args)
	}
}
