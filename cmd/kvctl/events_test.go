package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pagedkv/pagedkv/internal/testref"
	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/stretchr/testify/require"
)

func TestEventsBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-sub", "tcp://127.0.0.1"},
		{"-sub", "http://x:1"},
		{"-sub", "tcp://127.0.0.1:5557", "-replay", "tcp://:x"},
		{"-sub", "tcp://127.0.0.1:5557", "-n", "-1"},
		{"-sub", "tcp://127.0.0.1:5557", "-timeout", "-1s"},
		{"-sub", "tcp://127.0.0.1:5557", "-from", "-2"},
		{"-sub", "tcp://127.0.0.1:5557", "-engine", ""},
		{"-sub", "tcp://127.0.0.1:5557", "extra"},
	} {
		code, stdout, stderr := kvctl("", append([]string{"events"}, args...)...)
		require.Equal(t, exitUsage, code, "%v", args)
		require.Empty(t, stdout)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "%v: one-line error: %q", args, stderr)
		require.True(t, strings.HasPrefix(stderr, "kvctl events: "), stderr)
	}
}

func loopbackPublisher(t *testing.T, skip func(uint64) bool) *kvevents.Publisher {
	t.Helper()
	p, err := kvevents.NewPublisher(kvevents.PublisherConfig{Endpoint: "tcp://127.0.0.1:0", ReplayEndpoint: "tcp://127.0.0.1:0",
		Mode: kvevents.Bind, Linger: -1, SkipSend: skip})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// jsonLines parses every output line, keeping integers exact.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		d := json.NewDecoder(strings.NewReader(l))
		d.UseNumber()
		var m map[string]any
		require.NoError(t, d.Decode(&m), "line %q", l)
		lines = append(lines, m)
	}
	return lines
}

// vLLM's golden batches, replayed from the publisher's buffer, come out as one JSON
// line per event with vLLM's field names and exact values.
func TestEventsPrintsGoldenBatches(t *testing.T) {
	golden := testref.EventPayloads(t)
	p := loopbackPublisher(t, nil)
	for _, name := range []string{"stored_root_gpu", "stored_bytes_hashes", "stored_salt_and_mm_extra_keys", "removed_gpu", "all_blocks_cleared", "stored_with_parent_gpu"} {
		b, err := kvevents.DecodeBatch(golden[name])
		require.NoError(t, err, name)
		_, err = p.Publish(b)
		require.NoError(t, err)
	}
	code, stdout, stderr := kvctl("", "events", "-sub", p.Endpoint(), "-replay", p.ReplayEndpoint(), "-n", "7",
		"-timeout", "20s", "-engine", "pod-a")
	require.Equal(t, exitOK, code, stderr)
	lines := jsonLines(t, stdout)
	require.Len(t, lines, 8, stdout) // seven events and the notice after the clear

	first := lines[0]
	require.Equal(t, "event", first["kind"])
	require.Equal(t, "pod-a", first["engine"])
	require.Equal(t, json.Number("0"), first["seq"])
	require.Equal(t, true, first["replayed"])
	require.Equal(t, "BlockStored", first["type"])
	require.Equal(t, []any{json.Number("5919643161646815916"), json.Number("13002451278117060876")}, first["block_hashes"])
	require.Nil(t, first["parent_block_hash"])
	require.Contains(t, first, "lora_id")
	require.Equal(t, "GPU", first["medium"])
	require.Equal(t, []any{nil, nil}, first["extra_keys"])
	require.Equal(t, json.Number("0"), first["group_idx"])
	require.Equal(t, "full_attention", first["kv_cache_spec_kind"])
	require.Len(t, first["token_ids"], 32)

	raw := lines[1]
	require.Equal(t, []any{map[string]any{"bytes_hex": "4d0f11636a8a819e0a57165a993ebe3ad62d2f0e4ce2438f5966a455c0fc1097"}}, raw["block_hashes"])
	require.Equal(t, map[string]any{"bytes_hex": "df49c5a4299b0f6bacc92ebe2f351f6f3cd3defdeab74ca6b471fc8c297dc10c"}, raw["parent_block_hash"])

	salt, mm := lines[2], lines[3]
	require.Equal(t, json.Number("2"), salt["seq"])
	require.Equal(t, json.Number("2"), mm["seq"], "two events of one batch")
	require.Equal(t, []any{[]any{"tenant-42"}, nil}, salt["extra_keys"])
	require.Equal(t, []any{"6f1ed002ab5595859014ebf0951522d9", json.Number("-11")}, mm["extra_keys"].([]any)[1].([]any)[0])

	removed := lines[4]
	require.Equal(t, "BlockRemoved", removed["type"])
	require.Equal(t, []any{json.Number("6442017005216993431")}, removed["block_hashes"])
	require.NotContains(t, removed, "token_ids")

	require.Equal(t, "AllBlocksCleared", lines[5]["type"])
	require.Equal(t, map[string]any{"kind": "cleared", "engine": "pod-a", "seq": json.Number("4")}, lines[6])
	require.Equal(t, json.Number("5"), lines[7]["seq"])
}

// Without a replay socket a lost batch is reported as a gap_lost line; with -n the
// command stops after that many events, and too few by -timeout is a failure.
func TestEventsGapsAndLimits(t *testing.T) {
	p := loopbackPublisher(t, func(seq uint64) bool { return seq%3 == 2 })
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // an engine stepping every 10 ms
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			b := &kvevents.Batch{TS: float64(i), Events: []kvevents.Event{{Type: kvevents.BlockRemoved,
				BlockHashes: []kvevents.BlockHash{kvevents.HashUint64(uint64(i))}, Medium: kvevents.Some("GPU")}}}
			if _, err := p.Publish(b); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	code, stdout, stderr := kvctl("", "events", "-sub", p.Endpoint(), "-n", "5", "-timeout", "20s")
	require.Equal(t, exitOK, code, stderr)
	lines := jsonLines(t, stdout)
	events, gaps := 0, 0
	for _, l := range lines {
		switch l["kind"] {
		case "event":
			events++
			require.Equal(t, false, l["replayed"])
		case "gap_lost":
			gaps++
			require.Contains(t, l["error"], "no replay endpoint")
		}
	}
	require.Equal(t, 5, events)
	require.Positive(t, gaps, stdout)

	code, stdout, stderr = kvctl("", "events", "-sub", "tcp://127.0.0.1:1", "-n", "1", "-timeout", "300ms")
	require.Equal(t, exitFailure, code)
	require.Empty(t, stdout)
	require.Equal(t, "kvctl events: 0 of 1 events within -timeout 300ms\n", stderr)
	code, _, _ = kvctl("", "events", "-sub", "tcp://127.0.0.1:1", "-timeout", "100ms")
	require.Equal(t, exitOK, code, "without -n, the timeout is the planned end")
}

func TestEventsLineHelpers(t *testing.T) {
	var b bytes.Buffer
	b.Write(appendEventLine(nil, kvevents.Notification{Engine: "e", Seq: 3, Batch: &kvevents.Batch{TS: 1}},
		&kvevents.Event{Type: kvevents.Unknown, Tag: "Future", Raw: []byte{0x80}}))
	require.Equal(t, `{"kind":"event","engine":"e","seq":3,"ts":1,"data_parallel_rank":null,"replayed":false,"type":"Future","raw_hex":"80"}`+"\n", b.String())
	require.Equal(t, []any{map[string]any{"map": [][2]any{{"k", bytesHex{"01"}}}}, "NaN", int64(-1)},
		genericJSON([]any{[]kvevents.MapEntry{{Key: "k", Value: []byte{1}}}, nan(), int64(-1)}))
	require.Equal(t, int64(-5), hashJSON(kvevents.HashInt64(-5)))
}

func nan() float64 { return math.NaN() }
