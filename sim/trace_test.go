package sim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAzure(t *testing.T) {
	in := "TIMESTAMP,ContextTokens,GeneratedTokens\n" +
		"2023-11-16 18:17:03.9799600,48,10\n" +
		"2023-11-16 18:17:04.0319600,31,8\n"
	reqs, err := ParseAzure(strings.NewReader(in), "x.csv", 1)
	require.NoError(t, err)
	require.Len(t, reqs, 2)
	require.Len(t, reqs[0].Prompt, 48)
	require.Equal(t, 8, reqs[1].OutputLen)
	require.InDelta(t, 0.052, reqs[1].Arrival, 1e-6)
	for _, bad := range []string{
		"2023-11-16 18:17:03.9799600,48\n",
		"yesterday,48,10\n",
		"2023-11-16 18:17:03.9799600,-1,10\n",
		"2023-11-16 18:17:03.9799600,4,x\n",
		"",
	} {
		_, err := ParseAzure(strings.NewReader("TIMESTAMP,ContextTokens,GeneratedTokens\n"+bad), "bad.csv", 1)
		require.True(t, errors.Is(err, ErrInvalid), bad)
		if bad != "" {
			require.Contains(t, err.Error(), "bad.csv:2")
		}
	}
}

func TestParseMooncakeSharesBlocks(t *testing.T) {
	in := `{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [7, 8]}
{"timestamp": 1500, "input_length": 1000, "output_length": 3, "hash_ids": [7, 9]}
`
	reqs, err := ParseMooncake(strings.NewReader(in), "m.jsonl")
	require.NoError(t, err)
	require.Len(t, reqs, 2)
	require.Equal(t, reqs[0].Prompt[:512], reqs[1].Prompt[:512], "equal hash ids give equal tokens")
	require.NotEqual(t, reqs[0].Prompt[512:600], reqs[1].Prompt[512:600])
	require.Len(t, reqs[1].Prompt, 1000)
	require.InDelta(t, 1.5, reqs[1].Arrival, 1e-9)
	for i, bad := range []string{
		`{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [7]}`,
		`{"timestamp": 0, "input_length": 600, "hash_ids": [7, 8]}`,
		`{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [7, 8]`,
	} {
		_, err := ParseMooncake(strings.NewReader("\n"+bad+"\n"), "bad.jsonl")
		require.True(t, errors.Is(err, ErrInvalid), "case %d", i)
		require.Contains(t, err.Error(), "bad.jsonl:2", "case %d", i)
	}
}

// tracePath returns a shared trace's path, skipping the test when traces are absent.
func tracePath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(TracesDir(), name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("trace %s not found (set PAGEDKV_TRACES to the public traces directory): %v", name, err)
	}
	return p
}

func TestRealTracesMatchPublishedStats(t *testing.T) {
	for _, c := range []struct {
		file          string
		n             int
		meanIn, meanO float64
	}{
		{"azure2023_conv.csv", 19366, 1155, 211},
		{"azure2023_code.csv", 8819, 2048, 27.9},
		{"mooncake_conversation_trace.jsonl", 12031, 12035, 343},
	} {
		reqs, err := LoadTrace(tracePath(t, c.file), 1)
		require.NoError(t, err)
		require.Len(t, reqs, c.n)
		var in, out float64
		for _, r := range reqs {
			in += float64(len(r.Prompt))
			out += float64(r.OutputLen)
		}
		require.InEpsilon(t, c.meanIn, in/float64(c.n), 0.01, c.file)
		require.InEpsilon(t, c.meanO, out/float64(c.n), 0.01, c.file)
	}
}
