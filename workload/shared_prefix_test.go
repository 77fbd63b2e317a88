package workload

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSharedPrefixIsTheBenchmark(t *testing.T) {
	require.Equal(t, LLMD37Capacity(), SharedPrefix{}.withDefaults())
	reqs, err := Collect(SharedPrefix{}.Source())
	require.NoError(t, err)
	require.Equal(t, 6810, len(reqs)) // 250 + 630 + 720 + 600 + 720 + 720 + 700 + 720 + 750 + 1000
	require.Equal(t, []float64{0, 25, 235, 415, 535, 655, 745, 815, 875, 925}, SharedPrefix{}.StageStarts())
	// Constant intervals: the warm-up's 250 requests 0.1 s apart, then 3/s from 25 s.
	require.InDelta(t, 0.1, reqs[1].Arrival, 1e-12)
	require.InDelta(t, 25, reqs[250].Arrival, 1e-12)
	require.InDelta(t, 25+1.0/3, reqs[251].Arrival, 1e-12)
	full := 83 * 3
	prefixes := map[[8]int32]int{}
	stageStart := 0 // index of the current stage's first request
	for i, r := range reqs {
		require.Equal(t, i, r.ID)
		require.Equal(t, 9000, len(r.Prompt))
		require.Equal(t, 1000, r.OutputLen)
		require.NoError(t, r.Validate())
		if slices.Contains([]float64{25, 235, 415, 535, 655, 745, 815, 875, 925}, r.Arrival) {
			stageStart = i
		}
		if i < full {
			prefixes[[8]int32(r.Prompt[:8])]++
		}
		if raceOn && i%17 != 0 {
			continue // (comparing every prompt is slow under the race detector)
		}
		// Every stage cycles through the full set from its first prompt.
		require.True(t, slices.Equal(reqs[(i-stageStart)%full].Prompt, r.Prompt), "request %d", i)
	}
	require.Len(t, prefixes, 83, "83 distinct 8000-token prefixes")
	for _, n := range prefixes {
		require.Equal(t, 3, n, "3 questions each")
	}
	// Shuffled: consecutive requests rarely share a prefix.
	same := 0
	for i := 1; i < full; i++ {
		if reqs[i].Prompt[0] == reqs[i-1].Prompt[0] {
			same++
		}
	}
	require.Less(t, same, 20)
	again, err := Collect(SharedPrefix{}.Source())
	require.NoError(t, err)
	require.Equal(t, len(reqs), len(again))
	for i, r := range again { // the same requests again
		require.True(t, r.ID == reqs[i].ID && r.Arrival == reqs[i].Arrival && r.OutputLen == reqs[i].OutputLen &&
			slices.Equal(r.Prompt, reqs[i].Prompt), "request %d", i)
	}
}

func TestSharedPrefixPoisson(t *testing.T) {
	s := SharedPrefix{Groups: 4, PromptsPerGroup: 2, SystemPromptLen: 10, QuestionLen: 5, OutputLen: 3,
		Stages: []Stage{{Rate: 50, Duration: 20}, {Rate: 5, Duration: 20}}, Poisson: true, Seed: 3}
	reqs, err := Collect(s.Source())
	require.NoError(t, err)
	first := 0
	for _, r := range reqs {
		if r.Arrival < 20 {
			first++
		}
	}
	require.InDelta(t, 1000, first, 100)
	require.InDelta(t, 100, len(reqs)-first, 35)
	for i := 1; i < len(reqs); i++ {
		require.GreaterOrEqual(t, reqs[i].Arrival, reqs[i-1].Arrival)
	}
}

func TestSharedPrefixRejectsBadInput(t *testing.T) {
	for _, s := range []SharedPrefix{
		{Groups: -1}, {PromptsPerGroup: MaxRequests}, {SystemPromptLen: MaxTokens}, {QuestionLen: -3},
		{OutputLen: MaxTokens + 1}, {Groups: 1 << 12, PromptsPerGroup: 1 << 8, SystemPromptLen: 1 << 10},
		{Stages: []Stage{{Rate: 0, Duration: 1}}}, {Stages: []Stage{{Rate: 1, Duration: -1}}},
		{Stages: []Stage{{Rate: 1e9, Duration: 1}}}, {Stages: []Stage{{Rate: 0.1, Duration: 1}}},
	} {
		err := s.Validate()
		require.True(t, errors.Is(err, ErrInvalid), "%+v: %v", s, err)
		reqs, err := Collect(s.Source())
		require.ErrorIs(t, err, ErrInvalid)
		require.Empty(t, reqs)
	}
}
