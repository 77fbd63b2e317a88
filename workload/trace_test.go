package workload

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const azureHeader = "TIMESTAMP,ContextTokens,GeneratedTokens\n"

func TestParseAzure(t *testing.T) {
	in := azureHeader +
		"2023-11-16 18:17:03.9799600,48,10\n" +
		"2023-11-16 18:17:04.0319600,31,8\n"
	reqs, err := Collect(ParseAzure(strings.NewReader(in), "x.csv", TraceOptions{Seed: 1}))
	require.NoError(t, err)
	require.Len(t, reqs, 2)
	require.Len(t, reqs[0].Prompt, 48)
	require.Equal(t, 8, reqs[1].OutputLen)
	require.Equal(t, 1, reqs[1].ID)
	require.InDelta(t, 0.052, reqs[1].Arrival, 1e-6)
	for _, c := range []struct{ row, want string }{
		{"2023-11-16 18:17:03.9799600,48\n", "want 3 fields"},
		{"yesterday,48,10\n", "bad timestamp"},
		{"2023-11-16 18:17:03.9799600,-1,10\n", "prompt of -1 tokens"},
		{"2023-11-16 18:17:03.9799600,4,x\n", "bad token counts"},
		{"2023-11-16 18:17:03.9799600,2000000000,10\n", "prompt of 2000000000 tokens not in [1, 1048576]"},
		{"2023-11-16 18:17:03.9799600,20,2000000000\n", "output of 2000000000 tokens"},
		// A row dated before the first one would arrive at a negative time.
		{"2023-11-16 18:17:03.9799600,20,5\n1999-01-01 00:00:00.0000000,20,5\n", "before the previous row"},
		// A first row dated 1999 puts the next one 25 years later.
		{"1999-01-01 00:00:00.0000000,20,5\n2023-11-16 18:17:03.9799600,20,5\n", "arrival 7.8"},
	} {
		rows := azureHeader + c.row
		_, err := Collect(ParseAzure(strings.NewReader(rows), "bad.csv", TraceOptions{}))
		require.ErrorIs(t, err, ErrInvalid, c.row)
		line := strings.Count(rows, "\n") // the last row is the bad one
		require.ErrorContains(t, err, "bad.csv:"+strconv.Itoa(line)+": ", c.row)
		require.ErrorContains(t, err, c.want, c.row)
	}
	_, err = Collect(ParseAzure(strings.NewReader(azureHeader), "empty.csv", TraceOptions{}))
	require.ErrorContains(t, err, "empty.csv: no requests")
}

func TestParseMooncakeSharesBlocks(t *testing.T) {
	in := `{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [7, 8]}

{"timestamp": 1500, "input_length": 1000, "output_length": 3, "hash_ids": [7, 9]}
`
	reqs, err := Collect(ParseMooncake(strings.NewReader(in), "m.jsonl", TraceOptions{}))
	require.NoError(t, err)
	require.Len(t, reqs, 2)
	require.Equal(t, reqs[0].Prompt[:512], reqs[1].Prompt[:512], "equal hash ids give equal tokens")
	require.NotEqual(t, reqs[0].Prompt[512:600], reqs[1].Prompt[512:600])
	require.Len(t, reqs[1].Prompt, 1000)
	require.InDelta(t, 1.5, reqs[1].Arrival, 1e-9)
	for _, c := range []struct{ row, want string }{
		{`{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [7]}`, "1 hash ids for 600 tokens"},
		{`{"timestamp": 0, "input_length": 600, "hash_ids": [7, 8]}`, "missing"},
		{`{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [7, 8]`, "unexpected end"},
		{`{"timestamp": -5, "input_length": 6, "output_length": 5, "hash_ids": [7]}`, "arrival -0.005 s not in"},
		{`{"timestamp": 1e308, "input_length": 6, "output_length": 5, "hash_ids": [7]}`, "arrival 1e+305 s not in"},
		{`{"timestamp": 0, "input_length": 2000000000, "output_length": 5, "hash_ids": [7]}`, "prompt of 2000000000 tokens"},
		{`{"timestamp": 0, "input_length": 0, "output_length": 5, "hash_ids": []}`, "prompt of 0 tokens"},
		{`{"timestamp": 0, "input_length": 6, "output_length": -5, "hash_ids": [7]}`, "output of -5 tokens"},
	} {
		_, err := Collect(ParseMooncake(strings.NewReader("\n"+c.row+"\n"), "bad.jsonl", TraceOptions{}))
		require.ErrorIs(t, err, ErrInvalid, c.row)
		require.ErrorContains(t, err, "bad.jsonl:2: ", c.row)
		require.ErrorContains(t, err, c.want, c.row)
	}
	out := `{"timestamp": 10, "input_length": 6, "output_length": 5, "hash_ids": [7]}
{"timestamp": 5, "input_length": 6, "output_length": 5, "hash_ids": [7]}`
	_, err = Collect(ParseMooncake(strings.NewReader(out), "order.jsonl", TraceOptions{}))
	require.ErrorContains(t, err, "order.jsonl:2: arrival 0.005 s is before the previous row's 0.01 s")
}

// A row claiming two billion tokens is refused before anything is built for it.
func TestHugeRowAllocatesNothing(t *testing.T) {
	rows := azureHeader + "2023-11-16 18:17:03.9799600,2000000000,10\n"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Collect(ParseAzure(strings.NewReader(rows), "huge.csv", TraceOptions{}))
	runtime.ReadMemStats(&after)
	require.ErrorContains(t, err, "huge.csv:2")
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
}

func TestOpenTrace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.CSV") // extensions match case-insensitively
	require.NoError(t, os.WriteFile(p, []byte(azureHeader+"2023-11-16 18:17:03.9799600,48,10\n2023-11-16 18:17:05.0,3,1\n"), 0o644))
	src, err := OpenTrace(p, TraceOptions{Seed: 3})
	require.NoError(t, err)
	a, err := Collect(src)
	require.NoError(t, err)
	b, err := Collect(src)
	require.NoError(t, err)
	require.Len(t, a, 2)
	require.Equal(t, a, b, "ranging again reads the file again")
	_, err = OpenTrace(filepath.Join(dir, "none.csv"), TraceOptions{})
	require.ErrorIs(t, err, ErrInvalid)
	require.True(t, errors.Is(err, os.ErrNotExist))
	_, err = OpenTrace(filepath.Join(dir, "t.parquet"), TraceOptions{})
	require.ErrorContains(t, err, "unknown trace format (want one of")
}

// A new format is a file that registers its parser; OpenTrace then reads it.
func TestRegisterFormat(t *testing.T) {
	Register(Format{Name: "test-lines", Extensions: []string{".testlines"}, Doc: "one prompt length per line",
		Parse: func(r io.Reader, name string, _ TraceOptions) Source {
			return func(yield func(Request, error) bool) {
				data, _ := io.ReadAll(r)
				for i, f := range strings.Fields(string(data)) {
					n, _ := strconv.Atoi(f)
					if !yield(Request{ID: i, Arrival: float64(i), Prompt: make([]int32, n), OutputLen: 1}, nil) {
						return
					}
				}
			}
		}})
	p := filepath.Join(t.TempDir(), "x.testlines")
	require.NoError(t, os.WriteFile(p, []byte("3 5 8"), 0o644))
	reqs, err := LoadTrace(p, TraceOptions{})
	require.NoError(t, err)
	require.Len(t, reqs, 3)
	require.Len(t, reqs[2].Prompt, 8)
	var names []string
	for _, f := range Formats() {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"azure2023", "mooncake", "test-lines"}, names)
	require.Panics(t, func() { Register(Format{Name: "again", Extensions: []string{".csv"}, Parse: ParseAzure}) })
	require.Panics(t, func() { Register(Format{Name: "upper", Extensions: []string{".CSV2"}, Parse: ParseAzure}) })
	require.Panics(t, func() { Register(Format{Name: "none", Parse: ParseAzure}) })
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
		src, err := OpenTrace(tracePath(t, c.file), TraceOptions{Seed: 1})
		require.NoError(t, err)
		if raceOn { // the first rows only; the statistics are checked without -race
			reqs, err := Collect(Take(src, 200))
			require.NoError(t, err)
			require.Len(t, reqs, 200)
			continue
		}
		var n int
		var in, out float64
		for r, err := range src {
			require.NoError(t, err)
			in += float64(len(r.Prompt))
			out += float64(r.OutputLen)
			n++
		}
		require.Equal(t, c.n, n, c.file)
		require.InEpsilon(t, c.meanIn, in/float64(c.n), 0.01, c.file)
		require.InEpsilon(t, c.meanO, out/float64(c.n), 0.01, c.file)
	}
}
