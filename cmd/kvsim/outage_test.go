package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pagedkv/pagedkv/sim"
	"github.com/stretchr/testify/require"
)

// Bad -outage values exit 2 with one line naming the flag, before anything runs.
func TestOutageBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-engines", "3", "-outage", "1"}, "-outage entry \"1\": want ENGINE@AT[+FOR]"},
		{[]string{"-engines", "3", "-outage", "x@5"}, "-outage entry \"x@5\""},
		{[]string{"-engines", "3", "-outage", "1@"}, "-outage entry \"1@\""},
		{[]string{"-engines", "3", "-outage", "1@5+"}, "-outage entry \"1@5+\""},
		{[]string{"-engines", "3", "-outage", "1@5+abc"}, "-outage entry \"1@5+abc\""},
		{[]string{"-engines", "3", "-outage", "1@5+0"}, "-outage entry \"1@5+0\": +FOR must be positive"},
		{[]string{"-engines", "3", "-outage", "3@5"}, "-outage 3@5 (-engines 3): outage 0: engine 3 not in [0, 3)"},
		{[]string{"-engines", "3", "-outage", "-1@5"}, "outage 0: engine -1 not in [0, 3)"},
		{[]string{"-engines", "3", "-outage", "1@-5"}, "outage 0: At -5 is not a finite time ≥ 0"},
		{[]string{"-engines", "3", "-outage", "1@NaN"}, "outage 0: At NaN"},
		{[]string{"-engines", "3", "-outage", "1@Inf"}, "outage 0: At +Inf"},
		{[]string{"-engines", "3", "-outage", "1@5+-3"}, "outage 0: For -3"},
		{[]string{"-engines", "3", "-outage", "1@5+Inf"}, "outage 0: For +Inf"},
		{[]string{"-engines", "3", "-outage", "1@5+10,e1@14"}, "outages 0 and 1 of engine 1 overlap"},
		{[]string{"-engines", "2", "-outage", "0@5,1@8+1"}, "outage 1: at 8 s all 2 engines would be down"},
		{[]string{"-outage", "0@5+1"}, "-outage 0@5+1 (-engines 1): outage 0: at 5 s all 1 engines would be down"},
		{[]string{"-engines", "3", "-outage", "e1@5+1e-17"}, "outage 0: For 1e-17 is too short to end after At 5"},
	} {
		var out, errb bytes.Buffer
		code := run(append(c.args, "-progress=false"), &out, &errb)
		require.Equal(t, 2, code, "%v: %s", c.args, errb.String())
		msg := strings.TrimSpace(errb.String())
		require.True(t, strings.HasPrefix(msg, "kvsim: "), "%v: %q", c.args, msg)
		require.Contains(t, msg, c.want, c.args)
		require.NotContains(t, msg, "\n", "one line: %q", msg)
		require.Empty(t, out.String(), c.args)
	}
}

// -outage takes an engine down and back: its requests are re-routed, its time down
// is reported (JSON and table), and every request completes.
func TestOutageRun(t *testing.T) {
	base := []string{"-engines", "3", "-requests", horizon("150", "40"), "-rate", "4", "-turns", "3", "-out", "", "-progress=false"}
	var out, errb bytes.Buffer
	code := run(append(base, "-json", "-outage", "e1@5+4"), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var doc struct {
		Requests int `json:"requests"`
		Runs     []struct {
			Completed int `json:"requests_completed"`
			Rejected  int `json:"requests_rejected"`
			TooLong   int `json:"requests_too_long"`
			Rerouted  int `json:"requests_rerouted"`
			PerEngine []struct {
				Rerouted int     `json:"requests_rerouted"`
				DownS    float64 `json:"down_s"`
			} `json:"per_engine"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	r := doc.Runs[0]
	require.Equal(t, doc.Requests, r.Completed+r.Rejected)
	require.Equal(t, r.TooLong, r.Rejected, "only prompts too long for the model are rejected")
	require.Positive(t, r.Rerouted)
	require.Equal(t, r.Rerouted, r.PerEngine[1].Rerouted)
	require.InDelta(t, 4, r.PerEngine[1].DownS, 1e-9)
	require.Zero(t, r.PerEngine[0].DownS)

	out.Reset()
	code = run(append(base, "-outage", "1@5+4"), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "precise: outages re-routed ")
	require.Contains(t, out.String(), "e1 down 4.0 s")
}

// AT and FOR may both carry exponents, with their own signs.
func TestOutageParseExponents(t *testing.T) {
	for spec, want := range map[string]sim.Outage{
		"e1@5+1e+3":   {Engine: 1, At: 5, For: 1000},
		"1@1e+1+5":    {Engine: 1, At: 10, For: 5},
		"2@1e+1+1e+2": {Engine: 2, At: 10, For: 100},
		"0@2.5e1":     {Engine: 0, At: 25},
		"e2@7":        {Engine: 2, At: 7},
	} {
		got, err := parseOutages(spec, 3)
		require.NoError(t, err, spec)
		require.Equal(t, []sim.Outage{want}, got, spec)
	}
}
