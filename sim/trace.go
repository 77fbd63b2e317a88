package sim

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TracesDir returns the directory holding the public traces: $PAGEDKV_TRACES, or
// else ../shared/traces beside the module root (the nearest directory upwards from
// the working directory that has a go.mod), or else ../shared/traces.
func TracesDir() string {
	if d := os.Getenv("PAGEDKV_TRACES"); d != "" {
		return d
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return filepath.Join(dir, "..", "shared", "traces")
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
	}
	return filepath.Join("..", "shared", "traces")
}

// LoadTrace reads a trace file, choosing the parser by extension: .csv is the Azure
// LLM inference 2023 format, .jsonl the Mooncake format. Errors name the file and line.
func LoadTrace(path string, seed uint64) ([]Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return ParseAzure(f, path, seed)
	case ".jsonl", ".json":
		return ParseMooncake(f, path)
	}
	return nil, fmt.Errorf("%w: %s: unknown trace format (want .csv or .jsonl)", ErrInvalid, path)
}

const azureTime = "2006-01-02 15:04:05.9999999"

// ParseAzure parses the Azure LLM inference trace CSV
// (TIMESTAMP,ContextTokens,GeneratedTokens). The trace has lengths only, so each
// prompt gets fresh random token ids (no prefix sharing); arrival times are relative
// to the first row.
func ParseAzure(r io.Reader, name string, seed uint64) ([]Request, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	rng := rand.New(rand.NewPCG(seed, 0xA2))
	var reqs []Request
	var t0 time.Time
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: %s:%d: %s", ErrInvalid, name, line, fmt.Sprintf(format, a...))
		}
		if err != nil {
			return nil, bad("%v", err)
		}
		if line == 1 && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "TIMESTAMP") {
			continue
		}
		if len(rec) != 3 {
			return nil, bad("want 3 fields, got %d", len(rec))
		}
		ts, err := time.Parse(azureTime, strings.TrimSpace(rec[0]))
		if err != nil {
			return nil, bad("bad timestamp %q", rec[0])
		}
		in, err1 := strconv.Atoi(strings.TrimSpace(rec[1]))
		out, err2 := strconv.Atoi(strings.TrimSpace(rec[2]))
		if err1 != nil || err2 != nil || in <= 0 || out <= 0 {
			return nil, bad("bad token counts %q, %q", rec[1], rec[2])
		}
		if len(reqs) == 0 {
			t0 = ts
		}
		prompt := make([]int32, in)
		for i := range prompt {
			prompt[i] = int32(rng.IntN(vocab))
		}
		reqs = append(reqs, Request{ID: len(reqs), Arrival: ts.Sub(t0).Seconds(), Prompt: prompt, OutputLen: out, N: 1})
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%w: %s: no requests", ErrInvalid, name)
	}
	sortByArrival(reqs)
	return reqs, nil
}

// MooncakeBlock is the number of tokens one Mooncake hash id stands for.
const MooncakeBlock = 512

type mooncakeRow struct {
	Timestamp    *float64 `json:"timestamp"`
	InputLength  *int     `json:"input_length"`
	OutputLength *int     `json:"output_length"`
	HashIDs      []int64  `json:"hash_ids"`
}

// ParseMooncake parses the Mooncake JSONL trace. Each hash id names a 512-token
// prefix block; the simulator synthesises that block's token ids from the id, so equal
// ids give equal tokens and the trace's prefix sharing becomes real sharing in the
// manager. A request's last block may be partial.
func ParseMooncake(r io.Reader, name string) ([]Request, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var reqs []Request
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var row mooncakeRow
		if err := json.Unmarshal([]byte(text), &row); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrInvalid, name, line, err)
		}
		if row.Timestamp == nil || row.InputLength == nil || row.OutputLength == nil ||
			*row.InputLength <= 0 || *row.OutputLength <= 0 {
			return nil, fmt.Errorf("%w: %s:%d: missing or non-positive timestamp/input_length/output_length", ErrInvalid, name, line)
		}
		in := *row.InputLength
		if need := (in + MooncakeBlock - 1) / MooncakeBlock; len(row.HashIDs) != need {
			return nil, fmt.Errorf("%w: %s:%d: %d hash ids for %d tokens (want %d)", ErrInvalid, name, line, len(row.HashIDs), in, need)
		}
		prompt := make([]int32, 0, in)
		for _, h := range row.HashIDs {
			n := min(MooncakeBlock, in-len(prompt))
			for i := range n {
				prompt = append(prompt, blockToken(h, i))
			}
		}
		reqs = append(reqs, Request{ID: len(reqs), Arrival: *row.Timestamp / 1000, Prompt: prompt, OutputLen: *row.OutputLength, N: 1})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%w: %s: no requests", ErrInvalid, name)
	}
	sortByArrival(reqs)
	return reqs, nil
}

func blockToken(hashID int64, i int) int32 {
	x := uint64(hashID)*0xD6E8FEB86659FD93 + uint64(i)*0x9E3779B97F4A7C15
	x ^= x >> 32
	x *= 0xD6E8FEB86659FD93
	x ^= x >> 32
	return int32(x % vocab)
}
