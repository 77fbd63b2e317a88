package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/pagedpub"
	"github.com/pagedkv/pagedkv/sim"
)

// run simulates the engine over reqs (sorted by arrival), publishing its events,
// and writes the listening and summary lines to stdout.
func (c *engineConfig) run(ctx context.Context, reqs []simRequest, stdout io.Writer) error {
	m, err := paged.New(c.mgr)
	if err != nil {
		return err
	}
	pub, err := kvevents.NewPublisher(c.pubCfg)
	if err != nil {
		return err
	}
	defer pub.Close()
	hello, _ := json.Marshal(map[string]any{"kind": "listening", "pub": pub.Endpoint(), "replay": pub.ReplayEndpoint(),
		"topic": c.f.topic, "num_blocks": c.mgr.NumBlocks, "block_size": c.mgr.BlockSize, "hash_algo": c.f.algo})
	if _, err := fmt.Fprintf(stdout, "%s\n", hello); err != nil {
		return fmt.Errorf("write: %w", err)
	}

	start := time.Now()
	epoch := float64(start.UnixNano()) / 1e9
	simNow := 0.0
	bridge, err := pagedpub.New(m, pagedpub.Config{Sink: pub, ConvertOptions: pagedpub.ConvertOptions{RawHashes: c.f.raw},
		Clock: func() float64 { return epoch + simNow }})
	if err != nil {
		return err
	}
	s := newScheduler(m, c.f.maxTokens, c.f.maxSeqs)
	// Every step computes at least one token or preempts; recomputation after
	// preemption can repeat work, but not without bound.
	var work int
	for i := range reqs {
		work += len(reqs[i].Prompt) + reqs[i].Output
	}
	maxSteps := uint64(8*work + 1024)
	interrupted := false
	pace := func() {
		if c.f.realtime && !waitFor(ctx, time.Until(start.Add(time.Duration(simNow*float64(time.Second))))) {
			interrupted = true
		}
	}
	next := 0
	for (next < len(reqs) || !s.idle()) && !interrupted {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		for next < len(reqs) && reqs[next].Arrival <= simNow {
			s.waiting = append(s.waiting, &reqs[next])
			next++
		}
		if s.idle() { // nothing to do until the next arrival
			simNow = reqs[next].Arrival
			pace()
			continue
		}
		w, err := s.step()
		if err != nil {
			return err
		}
		simNow += c.hw.IterationTime(w.batchTokens, w.contextTokens)
		if _, err := bridge.Step(); err != nil {
			return err
		}
		if bridge.Stats().Steps > maxSteps {
			return fmt.Errorf("no progress after %d steps (preemptions %d)", maxSteps, s.preempted)
		}
		pace()
	}
	if !interrupted && !waitFor(ctx, c.f.linger) {
		interrupted = true
	}
	st := bridge.Stats()
	sum := engineSummary{Kind: "summary", Requests: len(reqs), Finished: s.finished, Dropped: s.dropped,
		Preempted: s.preempted, Steps: st.Steps, Batches: st.Batches, Events: st.Events, Resyncs: st.Resyncs,
		NumBlocks: c.mgr.NumBlocks, HitRate: m.Stats().HitRate, Simulated: simNow,
		Wall: time.Since(start).Seconds(), Interrupts: interrupted}
	if st.Published {
		sum.LastSeq = &st.LastSeq
	}
	if err := pub.Close(); err != nil {
		return err
	}
	line, _ := json.Marshal(sum)
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// loadEngineTrace reads the first n requests (0: all) of a trace, refusing a file
// larger than maxTraceBytes or a row longer than maxEnginePromptToken tokens before
// any prompt is built.
func loadEngineTrace(path string, seed uint64, n int) ([]simRequest, error) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, err
	case st.IsDir():
		return nil, fmt.Errorf("%s is a directory", path)
	case st.Size() > maxTraceBytes:
		return nil, fmt.Errorf("%s: %d bytes, more than %d", path, st.Size(), maxTraceBytes)
	}
	if err := precheckTrace(path); err != nil {
		return nil, err
	}
	rs, err := sim.LoadTrace(path, seed)
	if err != nil {
		return nil, err
	}
	if n > 0 && n < len(rs) {
		rs = rs[:n]
	}
	out := make([]simRequest, len(rs))
	for i, r := range rs {
		out[i] = simRequest{ID: r.ID, Arrival: r.Arrival, Prompt: r.Prompt, Output: r.OutputLen}
	}
	return out, nil
}

var errTraceRow = errors.New("trace row out of range")

// precheckTrace checks every row's token counts against maxEnginePromptToken.
func precheckTrace(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	check := func(line int, in, out int64) error {
		if in > maxEnginePromptToken || out > maxEnginePromptToken {
			return fmt.Errorf("%w: %s:%d: %d prompt and %d output tokens (at most %d each)", errTraceRow, path, line, in, out, maxEnginePromptToken)
		}
		return nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		r := csv.NewReader(bufio.NewReader(f))
		r.FieldsPerRecord = -1
		r.ReuseRecord = true
		for line := 1; ; line++ {
			rec, err := r.Read()
			if err == io.EOF {
				return nil
			}
			if err != nil || len(rec) != 3 {
				return nil // the parser reports it with its own message
			}
			in, err1 := strconv.ParseInt(strings.TrimSpace(rec[1]), 10, 64)
			out, err2 := strconv.ParseInt(strings.TrimSpace(rec[2]), 10, 64)
			if err1 == nil && err2 == nil {
				if err := check(line, in, out); err != nil {
					return err
				}
			}
		}
	case ".jsonl", ".json":
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<26)
		for line := 1; sc.Scan(); line++ {
			var row struct {
				In  int64 `json:"input_length"`
				Out int64 `json:"output_length"`
			}
			if json.Unmarshal(sc.Bytes(), &row) == nil {
				if err := check(line, row.In, row.Out); err != nil {
					return err
				}
			}
		}
		return sc.Err()
	}
	return nil // sim.LoadTrace refuses other extensions
}
