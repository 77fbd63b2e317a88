package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/pagedpub"
	"github.com/pagedkv/pagedkv/workload"
)

// run simulates the engine over the total requests of src (checked by
// openEngineTrace), publishing its events, and writes the listening and summary
// lines to stdout. Requests are pulled from src as the simulated clock reaches their
// arrival.
func (c *engineConfig) run(ctx context.Context, src workload.Source, total int, stdout io.Writer) error {
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
	pull, stopPull := iter.Pull2(src.Seq())
	defer stopPull()
	// next is the next request to arrive (nil after the last one).
	var next *simRequest
	pulled := 0
	// Every step computes at least one token or preempts; recomputation after
	// preemption can repeat work, but not without bound: the steps are bounded by
	// the work of the requests that arrived so far.
	work := 0
	advance := func() error {
		next = nil
		if pulled == total {
			return nil
		}
		r, err, ok := pull()
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("the trace ended after %d of its %d requests", pulled, total)
		}
		pulled++
		next = &simRequest{ID: r.ID, Arrival: r.Arrival, Prompt: r.Prompt, Output: r.OutputLen}
		work += len(r.Prompt) + r.OutputLen
		return nil
	}
	if err := advance(); err != nil {
		return err
	}
	interrupted := false
	pace := func() {
		if c.f.realtime && !waitFor(ctx, time.Until(start.Add(time.Duration(simNow*float64(time.Second))))) {
			interrupted = true
		}
	}
	for (next != nil || !s.idle()) && !interrupted {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		for next != nil && next.Arrival <= simNow {
			s.waiting = append(s.waiting, next)
			if err := advance(); err != nil {
				return err
			}
		}
		if s.idle() { // nothing to do until the next arrival
			simNow = next.Arrival
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
		if maxSteps := uint64(8*work + 1024); bridge.Stats().Steps > maxSteps {
			return fmt.Errorf("no progress after %d steps (preemptions %d)", maxSteps, s.preempted)
		}
		pace()
	}
	if !interrupted && !waitFor(ctx, c.f.linger) {
		interrupted = true
	}
	st := bridge.Stats()
	sum := engineSummary{Kind: "summary", Requests: total, Finished: s.finished, Dropped: s.dropped,
		Preempted: s.preempted, Steps: st.Steps, Batches: st.Batches, Events: st.Events, Resyncs: st.Resyncs,
		NumBlocks: c.mgr.NumBlocks, HitRate: m.Stats().HitRate, Simulated: simNow,
		Wall: time.Since(start).Seconds(), Interrupts: interrupted}
	if st.Published {
		sum.LastSeq = &st.LastSeq
	}
	if err := pub.Close(); err != nil {
		return err
	}
	sum.Handshakes = pub.Stats().HandshakeFailures
	line, _ := json.Marshal(sum)
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// openEngineTrace opens a trace (its format chosen by its extension) and returns a
// Source of its first n requests (0: all) with their count. It reads the trace once
// to check every row against package workload's limits and the time order, holding
// one request at a time, so a bad row is an error before anything is published and
// a trace of any length is served in memory proportional to the requests in flight.
func openEngineTrace(path string, seed uint64, n int) (workload.Source, int, error) {
	src, err := workload.OpenTrace(path, workload.TraceOptions{Seed: seed})
	if err != nil {
		return nil, 0, err
	}
	if n > 0 {
		src = workload.Take(src, n)
	}
	count := 0
	for _, err := range src {
		if err != nil {
			return nil, 0, err
		}
		count++
	}
	return src, count, nil
}
