package workload

import (
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// horizon returns full, or short under the race detector (see raceOn).
func horizon(full, short int) int {
	if raceOn {
		return short
	}
	return full
}

// generationOrder is the workload the straightforward way — every session in
// generation order, then a stable sort by arrival — which Source must equal while
// holding only what it has to.
func generationOrder(t *testing.T, s Synthetic) []Request {
	t.Helper()
	require.NoError(t, s.Validate())
	g := newGenerator(s)
	var out []Request
	for g.made < s.Requests {
		require.NoError(t, g.session(g.nextStart(), func(r Request) { out = append(out, r) }))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Arrival < out[j].Arrival })
	return out
}

func TestSourceYieldsInArrivalOrder(t *testing.T) {
	for name, s := range map[string]Synthetic{
		"poisson":             {Profile: ShareGPT(), Rate: 2, Requests: 500, Seed: 1},
		"all at once":         {Profile: Alpaca(), Requests: 300, Seed: 2, N: 3},
		"multi-turn":          {Profile: ShareGPT(), Rate: 0.5, Requests: 300, Seed: 5, Turns: 3, ThinkTime: 5},
		"multi-turn at once":  {Profile: Alpaca(), Requests: 200, Seed: 6, Turns: 4},
		"multi-turn, cut off": {Profile: Alpaca(), Rate: 3, Requests: 101, Seed: 7, Turns: 5, ThinkTime: 1},
		"system prompt":       {Profile: ShareGPT(), Rate: 2, Requests: 200, Seed: 4, SystemPrompt: 512, SystemFraction: 0.8, Beam: 2},
	} {
		want := generationOrder(t, s)
		got, err := s.Generate()
		require.NoError(t, err, name)
		require.Equal(t, want, got, name)
		require.Len(t, got, s.Requests, name)
		again, _ := s.Generate()
		require.Equal(t, got, again, "%s: a Source ranges again to the same requests", name)
		for i := range got {
			require.NoError(t, got[i].Validate(), name)
		}
	}
}

func TestSyntheticFeatures(t *testing.T) {
	reqs, err := Synthetic{Profile: ShareGPT(), Rate: 0.5, Requests: 30, Seed: 5, Turns: 3, ThinkTime: 5}.Generate()
	require.NoError(t, err)
	byID := map[int]Request{}
	for _, r := range reqs {
		byID[r.ID] = r
	}
	// Turn 2 of the first session: turn 1's prompt, its output, a new message.
	t1, t2 := byID[0], byID[1]
	require.Equal(t, t1.Prompt, t2.Prompt[:len(t1.Prompt)])
	for i := range t1.OutputLen {
		require.Equal(t, OutputToken(0, 0, i), t2.Prompt[len(t1.Prompt)+i])
	}
	require.Greater(t, len(t2.Prompt), len(t1.Prompt)+t1.OutputLen)
	require.Greater(t, t2.Arrival, t1.Arrival)

	// SystemFraction 0 means every session gets the system prompt.
	all, err := Synthetic{Requests: 20, Seed: 1, SystemPrompt: 64}.Generate()
	require.NoError(t, err)
	for _, r := range all {
		require.Equal(t, all[0].Prompt[:64], r.Prompt[:64])
	}
	// The zero Profile is ShareGPT.
	a, _ := Synthetic{Requests: 50, Seed: 3}.Generate()
	b, _ := Synthetic{Profile: ShareGPT(), Requests: 50, Seed: 3}.Generate()
	require.Equal(t, b, a)
	for _, r := range a {
		require.Zero(t, r.Arrival, "Rate 0: all at once")
	}
}

func TestSyntheticValidation(t *testing.T) {
	bad := Profile{Name: "bad", Input: LengthDist{Mu: 1, Min: 5, Max: 4}, Output: LengthDist{Mu: 1, Min: 1, Max: 9}, MaxTotal: 20}
	for name, s := range map[string]Synthetic{
		"no requests":    {},
		"too many":       {Requests: MaxRequests + 1},
		"two billion":    {Requests: 2_000_000_000},
		"rate NaN":       {Requests: 10, Rate: math.NaN()},
		"rate Inf":       {Requests: 10, Rate: math.Inf(1)},
		"rate negative":  {Requests: 10, Rate: -1},
		"rate too slow":  {Requests: 10, Rate: 1e-9},
		"n":              {Requests: 10, N: MaxWidth + 1},
		"beam":           {Requests: 10, Beam: -1},
		"system huge":    {Requests: 10, SystemPrompt: 100_000_000},
		"system frac":    {Requests: 10, SystemFraction: math.NaN()},
		"system frac >1": {Requests: 10, SystemFraction: 1.5},
		"turns":          {Requests: 10, Turns: MaxTurns + 1},
		"think":          {Requests: 10, ThinkTime: math.Inf(1)},
		"profile":        {Requests: 10, Profile: bad},
	} {
		require.ErrorIs(t, s.Validate(), ErrInvalid, name)
		_, err := s.Generate()
		require.ErrorIs(t, err, ErrInvalid, name)
	}
}

// A workload that would hold too much before its first request can go is an error,
// found without holding more than the limit.
func TestSyntheticBufferLimit(t *testing.T) {
	if raceOn {
		defer func(v int) { maxBuffered = v }(maxBuffered)
		maxBuffered = 1 << 20
	}
	s := Synthetic{Profile: ShareGPT(), Requests: MaxRequests, Turns: MaxTurns, Seed: 1}
	n := 0
	var err error
	for _, e := range s.Source() {
		if e != nil {
			err = e
			break
		}
		n++
	}
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "prompt tokens arrive before")
	require.Less(t, n, MaxRequests)
}

func TestProfileMeans(t *testing.T) {
	for _, name := range ProfileNames() {
		p, err := LookupProfile(name)
		require.NoError(t, err)
		reqs, err := Synthetic{Profile: p, Requests: horizon(40000, 2000), Seed: 1}.Generate()
		require.NoError(t, err)
		var in, out float64
		for _, r := range reqs {
			in += float64(len(r.Prompt))
			out += float64(r.OutputLen)
			require.LessOrEqual(t, len(r.Prompt)+r.OutputLen, p.MaxTotal)
			require.GreaterOrEqual(t, len(r.Prompt), 4)
		}
		in /= float64(len(reqs))
		out /= float64(len(reqs))
		t.Logf("%s: mean in %.1f (paper %.2f), out %.1f (paper %.2f)", name, in, p.PaperMeanIn, out, p.PaperMeanOut)
		if raceOn {
			t.Log("race detector: 2,000 requests; the means are asserted over 40,000 by the run without -race")
			continue
		}
		require.InEpsilon(t, p.PaperMeanIn, in, 0.03, name)
		require.InEpsilon(t, p.PaperMeanOut, out, 0.03, name)
	}
	_, err := LookupProfile("lmsys")
	require.ErrorIs(t, err, ErrInvalid)
	require.Equal(t, []string{"alpaca", "sharegpt"}, ProfileNames())
}
