package sim

import (
	"errors"
	"strings"
	"testing"

	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

func TestPrefixCachingSavesWork(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 2, Requests: horizon(400, 60), Seed: 4,
		SystemPrompt: 512, SystemFraction: 0.8})
	on := run(t, DefaultConfig(), reqs)
	cfg := DefaultConfig()
	cfg.DisablePrefixCaching = true
	off := run(t, cfg, reqs)
	require.Zero(t, off.PrefixHitRate)
	// 80% of prompts start with 512 shared tokens (32 blocks): most of them hit.
	require.Greater(t, on.PrefixHitRate, 0.5)
	require.Less(t, on.MeanTTFTS, off.MeanTTFTS)
	// Multi-turn sessions hit their earlier turns.
	mt := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 0.5, Requests: horizon(300, 45), Seed: 5, Turns: 3, ThinkTime: 5})
	require.Greater(t, run(t, DefaultConfig(), mt).PrefixHitRate, 0.3)
}

func TestSmallerKVAndBlockSize(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: float64(horizon(2, 5)), Requests: horizon(600, 80), Seed: 6})
	base := run(t, DefaultConfig(), reqs)
	cfg := DefaultConfig()
	cfg.Hardware.KVBytesPerElem = 1
	q := run(t, cfg, reqs)
	require.InDelta(t, 2*base.KVSlots, q.KVSlots, 1, "8-bit KV doubles the slots")
	require.Less(t, q.Preemptions, base.Preemptions, "twice the slots: fewer preemptions")
	require.Less(t, q.NormalizedLatencyS, base.NormalizedLatencyS)
	// Bigger blocks waste more at the tail of each sequence.
	cfg = DefaultConfig()
	cfg.BlockSize = 128
	big := run(t, cfg, reqs)
	require.Greater(t, big.ReservedPct+big.InternalFragPct, base.ReservedPct+base.InternalFragPct)
}

func TestStaticBatchingIsWorst(t *testing.T) {
	n := horizon(300, 100)
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 2, Requests: n, Seed: 7})
	cfg := DefaultConfig()
	cfg.Policy = PolicyStatic
	st := run(t, cfg, reqs)
	cfg.Policy = PolicyOrcaMax
	om := run(t, cfg, reqs)
	require.Equal(t, n, st.RequestsCompleted)
	require.Less(t, st.MeanBatch, om.MeanBatch)
	require.Greater(t, st.NormalizedLatencyS, om.NormalizedLatencyS)
}

func TestDeterministic(t *testing.T) {
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: 3, Requests: horizon(300, 30), Seed: 8, Beam: 3})
	a, b := run(t, DefaultConfig(), reqs), run(t, DefaultConfig(), reqs)
	a.WallS, b.WallS = 0, 0
	require.Equal(t, a, b)
}

func TestChunkedPrefillAndPreemption(t *testing.T) {
	n := horizon(400, 80)
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: float64(horizon(4, 8)), Requests: n, Seed: 9})
	cfg := DefaultConfig()
	cfg.ChunkedPrefill = true
	cfg.MaxBatchTokens = 256
	r := run(t, cfg, reqs)
	require.Equal(t, n, r.RequestsCompleted)
	require.Positive(t, r.Preemptions, "4 req/s overloads OPT-13B's 15.8K slots")
}

func TestTooLongRequestsAreRejectedOrTruncated(t *testing.T) {
	reqs := []workload.Request{
		{ID: 0, Prompt: make([]int32, 3000), OutputLen: 5, N: 1},
		{ID: 1, Arrival: 1, Prompt: make([]int32, 2000), OutputLen: 500, N: 1},
		{ID: 2, Arrival: 2, Prompt: make([]int32, 10), OutputLen: 5, N: 1},
	}
	for i := range reqs {
		for j := range reqs[i].Prompt {
			reqs[i].Prompt[j] = int32(i*10000 + j)
		}
	}
	r := run(t, DefaultConfig(), reqs)
	require.Equal(t, 1, r.RequestsRejected)
	require.Equal(t, 1, r.RequestsTruncated)
	require.Equal(t, 2, r.RequestsCompleted)
}

// A workload of which every request is rejected runs nothing: no shares, no time.
func TestNothingRan(t *testing.T) {
	reqs := []workload.Request{
		{ID: 0, Prompt: make([]int32, 3000), OutputLen: 5},
		{ID: 1, Arrival: 1, Prompt: make([]int32, 2048), OutputLen: 5},
	}
	for _, p := range PolicyNames() {
		r := run(t, Config{Policy: p}, reqs)
		require.False(t, r.Ran(), p)
		require.Equal(t, 2, r.RequestsRejected, p)
		require.Zero(t, r.SimulatedS, p)
		require.Zero(t, shares(r), p)
	}
}

// Swapping preempted requests to a host tier completes the same work, with the copies
// charged to the iteration time; without a host tier every preemption recomputes.
func TestSwapPreemption(t *testing.T) {
	n := horizon(500, 80)
	reqs := generate(t, workload.Synthetic{Profile: workload.ShareGPT(), Rate: float64(horizon(25, 60)) / 10, Requests: n, Seed: 3})
	rec := run(t, DefaultConfig(), reqs)
	require.Positive(t, rec.Preemptions)
	require.Zero(t, rec.SwapOuts)
	cfg := DefaultConfig()
	cfg.SwapSpaceGiB = 16
	sw := run(t, cfg, reqs)
	require.Positive(t, sw.SwapOuts)
	require.Equal(t, sw.Preemptions, sw.SwapOuts, "16 GiB of host memory takes every victim")
	require.Equal(t, n, sw.RequestsCompleted)
	require.InDelta(t, 100, shares(sw), 1e-6)
	// A tiny host tier takes some victims and recomputes the rest.
	cfg.SwapSpaceGiB = 0.05
	small := run(t, cfg, reqs)
	require.Less(t, small.SwapOuts, small.Preemptions)
	require.Equal(t, n, small.RequestsCompleted)
	cfg.SwapSpaceGiB = -1
	_, err := Run(cfg, workload.Slice(reqs))
	require.ErrorIs(t, err, ErrInvalid)
}

// The engine takes requests from the source as they are needed: with every request
// arriving at once it still holds only about as many as it runs.
func TestStreamsRequests(t *testing.T) {
	const n, maxSeqs = 2000, 8
	syn := workload.Synthetic{Profile: workload.Alpaca(), Requests: horizon(n, 300), Seed: 2}
	yielded := 0
	src := workload.Source(func(yield func(workload.Request, error) bool) {
		yielded = 0
		for r, err := range syn.Source() {
			yielded++
			if !yield(r, err) {
				return
			}
		}
	})
	cfg := Config{MaxSeqs: maxSeqs}
	peak := 0
	cfg.Progress = func(done float64) {
		peak = max(peak, yielded-int(done*float64(syn.Requests)+0.5))
	}
	r, err := Run(cfg, src)
	require.NoError(t, err)
	require.Equal(t, syn.Requests, r.RequestsCompleted)
	require.LessOrEqual(t, peak, 2*maxSeqs+2, "requests taken from the source but not done")
	require.Positive(t, peak)
}

func TestSourceErrors(t *testing.T) {
	ok := workload.Request{Prompt: []int32{1, 2, 3}, OutputLen: 2}
	late := ok
	late.Arrival = 5
	for name, reqs := range map[string][]workload.Request{
		"empty":        nil,
		"out of order": {late, ok},
		"no output":    {{Prompt: []int32{1}, OutputLen: 0}},
		"no prompt":    {{OutputLen: 3}},
		"NaN arrival":  {{Arrival: nan(), Prompt: []int32{1}, OutputLen: 3}},
		"wide":         {{Prompt: []int32{1}, OutputLen: 3, Beam: workload.MaxWidth + 1}},
	} {
		_, err := Run(DefaultConfig(), workload.Slice(reqs))
		require.True(t, errors.Is(err, ErrInvalid) || errors.Is(err, workload.ErrInvalid), "%s: %v", name, err)
	}
	// A source that fails only while serving (it changed between the two passes).
	passes := 0
	boom := errors.New("disk gone")
	flaky := workload.Source(func(yield func(workload.Request, error) bool) {
		passes++
		for i := range 10 {
			if passes > 1 && i == 5 {
				yield(workload.Request{}, boom)
				return
			}
			r := ok
			r.ID, r.Arrival = i, float64(i)
			if !yield(r, nil) {
				return
			}
		}
	})
	_, err := Run(DefaultConfig(), flaky)
	require.ErrorIs(t, err, boom)
	// A one-shot source (a parser over a reader) cannot be ranged twice.
	oneShot := workload.ParseMooncake(strings.NewReader(`{"timestamp": 0, "input_length": 6, "output_length": 5, "hash_ids": [7]}`),
		"once.jsonl", workload.TraceOptions{})
	_, err = Run(DefaultConfig(), oneShot)
	require.ErrorContains(t, err, "once.jsonl: no requests")
	used := false
	once := workload.Source(func(yield func(workload.Request, error) bool) {
		if !used {
			used = true
			yield(ok, nil)
		}
	})
	_, err = Run(DefaultConfig(), once)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "yielded 1 requests, then 0")
	// A synthetic description's error comes out of Run.
	_, err = Run(DefaultConfig(), workload.Synthetic{}.Source())
	require.ErrorIs(t, err, workload.ErrInvalid)
}
