package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeTrace writes a small Mooncake-format trace: requests sharing a system
// prompt (hash id 0) and earlier turns, arriving 10 ms apart.
func writeTrace(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	next := int64(1)
	var prev []int64
	for i := range n {
		ids := []int64{0}
		if i%3 != 0 && len(prev) > 1 {
			ids = append([]int64(nil), prev...) // the next turn of a conversation
		}
		for range 1 + i%3 {
			ids = append(ids, next)
			next++
		}
		prev = ids
		in := 512*(len(ids)-1) + 100
		fmt.Fprintf(&b, `{"timestamp": %d, "input_length": %d, "output_length": %d, "hash_ids": %s}`+"\n",
			10*i, in, 5+i%7, strings.Join(strings.Fields(fmt.Sprint(ids)), ","))
	}
	p := filepath.Join(t.TempDir(), "trace.jsonl")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

func TestEngineBadUsageAndInput(t *testing.T) {
	trace := writeTrace(t, 3)
	usage := [][]string{
		{},
		{"-trace", trace, "extra"},
		{"-trace", trace, "-requests", "-1"},
		{"-trace", trace, "-block-size", "0"},
		{"-trace", trace, "-num-blocks", "-5"},
		{"-trace", trace, "-max-seqs", "0"},
		{"-trace", trace, "-max-batched-tokens", "0"},
		{"-trace", trace, "-event-queue", "-1"},
		{"-trace", trace, "-linger", "-1s"},
		{"-trace", trace, "-dp-rank", "-1"},
		{"-trace", trace, "-tp", "0"},
		{"-trace", trace, "-mem-util", "0"},
		{"-trace", trace, "-mem-util", "NaN"},
		{"-trace", trace, "-model", "gpt-5"},
		{"-trace", trace, "-gpu", "tpu"},
		{"-trace", trace, "-model", "llama-2-70b", "-gpu", "a100-40"}, // the weights do not fit
		{"-trace", trace, "-hash-algo", "md5"},
		{"-trace", trace, "-hash-algo", "xxhash"}, // random root without PYTHONHASHSEED
		{"-trace", trace, "-hash-algo", "xxh3", "-seed", "0"},
		{"-trace", trace, "-pub", "udp://x:1"},
		{"-trace", trace, "-replay", "tcp://host"},
	}
	for _, args := range usage {
		code, stdout, stderr := kvctl("", append([]string{"engine"}, args...)...)
		require.Equal(t, exitUsage, code, "%v: %s", args, stderr)
		require.Empty(t, stdout)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "%v: one-line error: %q", args, stderr)
	}

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	for _, p := range []string{
		filepath.Join(dir, "absent.jsonl"),
		dir,
		write("huge.jsonl", `{"timestamp": 0, "input_length": 2000000000, "output_length": 1, "hash_ids": [1]}`+"\n"),
		write("huge.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,2000000000,5\n"),
		write("bad.jsonl", "{not json\n"),
		write("trace.txt", "x"),
	} {
		code, stdout, stderr := kvctl("", "engine", "-trace", p, "-pub", "tcp://127.0.0.1:0")
		require.Equal(t, exitFailure, code, "%s: %s", p, stderr)
		require.Empty(t, stdout)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "%s: one-line error: %q", p, stderr)
	}
}

// kvctl engine | kvctl events on loopback: the events printed are every event the
// engine published, in sequence, consistent (a block is removed only after it was
// stored), and the block ids are vLLM's for the tokens they carry (checked with
// kvctl hash, itself checked against vLLM's golden vectors).
func TestEngineToEvents(t *testing.T) {
	trace := writeTrace(t, 24)
	pr, pw := io.Pipe()
	engineDone := make(chan int, 1)
	var engineErr strings.Builder
	go func() {
		defer pw.Close()
		engineDone <- run([]string{"engine", "-trace", trace, "-requests", "20", "-pub", "tcp://127.0.0.1:0",
			"-replay", "tcp://127.0.0.1:0", "-hash-algo", "sha256_cbor", "-seed", "0", "-num-blocks", "400",
			"-event-queue", "64", "-linger", "3s", "-topic", "kv"}, nil, pw, &engineErr)
	}()
	lines := bufio.NewScanner(pr)
	lines.Buffer(nil, 1<<20)
	require.True(t, lines.Scan())
	var hello struct{ Kind, Pub, Replay string }
	require.NoError(t, json.Unmarshal(lines.Bytes(), &hello))
	require.Equal(t, "listening", hello.Kind)

	code, stdout, stderr := kvctl("", "events", "-sub", hello.Pub, "-replay", hello.Replay, "-topic", "kv", "-timeout", "2s")
	require.Equal(t, exitOK, code, stderr)
	require.True(t, lines.Scan(), engineErr.String())
	var sum engineSummary
	require.NoError(t, json.Unmarshal(lines.Bytes(), &sum))
	require.Equal(t, exitOK, <-engineDone, engineErr.String())
	require.Equal(t, "summary", sum.Kind)
	require.Equal(t, 20, sum.Requests)
	require.Equal(t, 20, sum.Finished, "%+v", sum)
	require.Positive(t, sum.Resyncs, "the 64-event queue overflowed and the cache was re-announced: %+v", sum)
	require.NotNil(t, sum.LastSeq)
	require.Positive(t, sum.Events)

	cached := map[uint64]int{}
	var events, stored uint64
	lastSeq := int64(-1)
	var firstRoot []int32
	var firstRootIDs []uint64
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var e struct {
			Kind        string
			Seq         int64
			Type        string
			BlockHashes []uint64 `json:"block_hashes"`
			Parent      *uint64  `json:"parent_block_hash"`
			Tokens      []int32  `json:"token_ids"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &e), l)
		if e.Kind != "event" {
			require.Contains(t, []string{"gap_recovered", "cleared"}, e.Kind, l)
			continue
		}
		events++
		require.GreaterOrEqual(t, e.Seq, lastSeq, "in order")
		lastSeq = e.Seq
		switch e.Type {
		case "BlockStored":
			for _, h := range e.BlockHashes {
				cached[h]++
				stored++
			}
			if firstRoot == nil && e.Parent == nil {
				firstRoot, firstRootIDs = e.Tokens, e.BlockHashes
			}
		case "BlockRemoved":
			for _, h := range e.BlockHashes {
				require.Positive(t, cached[h], "removed %d before it was stored", h)
				cached[h]--
			}
		case "AllBlocksCleared":
			clear(cached)
		}
	}
	require.Equal(t, sum.Events, events, "every published event was printed once")
	require.Equal(t, int64(*sum.LastSeq), lastSeq)
	require.Positive(t, stored)

	req, _ := json.Marshal(map[string]any{"hash_algo": "sha256_cbor", "pythonhashseed": "0", "block_size": 16, "prompt_token_ids": firstRoot})
	code, out, stderr := kvctl(string(req), "hash")
	require.Equal(t, exitOK, code, stderr)
	var h hashResult
	require.NoError(t, json.Unmarshal([]byte(out), &h))
	require.Equal(t, h.EventIDs, firstRootIDs, "the engine publishes vLLM's block ids")
}

func TestEngineRealtimeAndSummary(t *testing.T) {
	trace := writeTrace(t, 4)
	start := time.Now()
	code, stdout, stderr := kvctl("", "engine", "-trace", trace, "-pub", "tcp://127.0.0.1:0", "-realtime",
		"-hash-algo", "xxh3", "-num-blocks", "1000")
	require.Equal(t, exitOK, code, stderr)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 2)
	var sum engineSummary
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &sum))
	require.Equal(t, 4, sum.Finished)
	require.Positive(t, sum.Simulated)
	require.GreaterOrEqual(t, time.Since(start).Seconds(), sum.Simulated, "paced by simulated time")
	require.GreaterOrEqual(t, sum.Wall, 0.9*sum.Simulated)
}
