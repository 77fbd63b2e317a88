package workload

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSliceTakeCollect(t *testing.T) {
	reqs := []Request{
		{ID: 0, Arrival: 0, Prompt: []int32{1}, OutputLen: 1},
		{ID: 1, Arrival: 1, Prompt: []int32{2}, OutputLen: 1},
		{ID: 2, Arrival: 1, Prompt: []int32{3}, OutputLen: 1},
	}
	got, err := Collect(Slice(reqs))
	require.NoError(t, err)
	require.Equal(t, reqs, got)
	got, err = Collect(Take(Slice(reqs), 2))
	require.NoError(t, err)
	require.Equal(t, reqs[:2], got)
	got, _ = Collect(Take(Slice(reqs), 0))
	require.Empty(t, got)
	_, err = Collect(Slice([]Request{reqs[1], reqs[0]}))
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "before its predecessor")
	// Take stops at an error too.
	_, err = Collect(Take(Slice([]Request{reqs[1], reqs[0]}), 5))
	require.ErrorIs(t, err, ErrInvalid)
}

func TestRequestValidate(t *testing.T) {
	ok := Request{Prompt: []int32{1}, OutputLen: 1}
	require.NoError(t, ok.Validate())
	for name, mod := range map[string]func(*Request){
		"arrival NaN":  func(r *Request) { r.Arrival = math.NaN() },
		"arrival neg":  func(r *Request) { r.Arrival = -1 },
		"arrival huge": func(r *Request) { r.Arrival = 1e300 },
		"no prompt":    func(r *Request) { r.Prompt = nil },
		"no output":    func(r *Request) { r.OutputLen = 0 },
		"huge output":  func(r *Request) { r.OutputLen = MaxTokens + 1 },
		"n":            func(r *Request) { r.N = -1 },
		"beam":         func(r *Request) { r.Beam = MaxWidth + 1 },
	} {
		r := ok
		mod(&r)
		require.ErrorIs(t, r.Validate(), ErrInvalid, name)
	}
	require.Equal(t, 4, (&Request{Beam: 4, N: 2}).Width())
	require.Equal(t, 1, (&Request{}).Width())
}
