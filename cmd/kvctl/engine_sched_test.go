package main

import (
	"testing"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/stretchr/testify/require"
)

// Under memory pressure the scheduler preempts by recompute and still finishes
// every request that fits the cache, drops the ones that never can, and leaves the
// manager consistent after every step.
func TestSchedulerPreemptsAndFinishes(t *testing.T) {
	m, err := paged.New(paged.Config{NumBlocks: 40, BlockSize: 16})
	require.NoError(t, err)
	s := newScheduler(m, 256, 16)
	var reqs []simRequest
	for i := range 30 {
		p := make([]int32, 40+(i%5)*30)
		for j := range p {
			p[j] = int32(j + 1000*(i%4))
		}
		reqs = append(reqs, simRequest{ID: i, Prompt: p, Output: 20 + i%13})
	}
	reqs = append(reqs, simRequest{ID: 99, Prompt: make([]int32, 40*16+1), Output: 1}) // longer than the cache
	for i := range reqs {
		s.waiting = append(s.waiting, &reqs[i])
	}
	work := 0
	for steps := 0; !s.idle(); steps++ {
		require.Less(t, steps, 10000)
		w, err := s.step()
		require.NoError(t, err)
		work += w.batchTokens
		require.NoError(t, m.CheckInvariants())
	}
	require.Equal(t, 30, s.finished)
	require.Equal(t, 1, s.dropped)
	require.Positive(t, s.preempted)
	require.Zero(t, m.NumSequences())
	require.Positive(t, work)
}
