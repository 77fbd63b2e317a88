package paged

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Events name the KV-cache group of their blocks: one BlockStored per group per run,
// and a BlockRemoved per evicted block with its group.
func TestEventsCarryGroup(t *testing.T) {
	m := newMgr(t, 8, 2, eventsOn(false), func(c *Config) { c.Groups = []KVGroup{fullGroup(), sw(3)} })
	rec := newRecorder(false)
	rec.windowed = map[int]bool{1: true}
	a, _ := admitWhole(t, m, span(0, 8))
	rec.drain(t, m)
	require.Len(t, rec.stored, 2)
	for g, e := range rec.stored {
		require.Equal(t, g, e.Group)
		require.Len(t, e.Hashes, 4)
		require.Equal(t, span(0, 8), e.Tokens)
	}
	require.Equal(t, rec.stored[0].Hashes, rec.stored[1].Hashes, "the same chain in both groups")
	require.NoError(t, m.Free(a))
	b, _ := admitWhole(t, m, span(100, 2)) // evicts group 1's blocks 2 and 1
	rec.drain(t, m)
	require.Len(t, rec.removed, 2)
	require.NoError(t, rec.matches(m))
	for _, cb := range m.CachedBlocks(nil) {
		k, _, _ := m.Pool().CachedKey(cb.ID)
		require.Equal(t, int(k.Group), cb.Group)
	}
	// A fresh subscriber rebuilt by ResyncEvents sees the same cache, groups apart.
	fresh := newRecorder(false)
	fresh.windowed = rec.windowed
	fresh.apply(m.ResyncEvents(nil))
	require.NoError(t, fresh.err)
	require.NoError(t, fresh.matches(m))
	require.NoError(t, m.Free(b))
	inv(t, m)
}

// ResyncEvents rebuilds any view of a hybrid cache, in both event forms, under a
// random workload (the churn of resync_test.go: swaps fail without a host tier).
func TestResyncEventsGroups(t *testing.T) {
	for gi, groups := range [][]KVGroup{{fullGroup(), sw(6)}, {sw(5)}, {fullGroup(), chunked(8), sw(3)}} {
		for _, distinct := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/distinct=%v", gi, distinct), func(t *testing.T) {
				m := newMgr(t, 40, 4, func(c *Config) {
					c.Events = EventOptions{Enabled: true, PerDistinctHash: distinct, QueueSize: 8}
					c.Groups = groups
				})
				c := &churn{t: t, m: m, rng: rand.New(rand.NewPCG(uint64(gi), 3))}
				rec := newRecorder(distinct)
				rec.windowed = map[int]bool{}
				for g, k := range groups {
					rec.windowed[g] = k.Kind != FullAttention
				}
				var buf []Event
				resyncs := 0
				for i := range 600 {
					c.step()
					var lost uint64
					buf, lost = m.TakeEvents(buf[:0])
					if lost > 0 || i%41 == 0 {
						for h := range rec.count {
							if c.rng.IntN(2) == 0 {
								delete(rec.count, h)
							}
						}
						buf = m.ResyncEvents(buf[:0])
						resyncs++
						checkResyncEvents(t, m, buf)
					}
					rec.apply(buf)
					require.NoError(t, rec.err)
					require.NoError(t, rec.matches(m), "step %d", i)
					if i%16 == 0 {
						inv(t, m)
					}
				}
				require.Positive(t, resyncs)
				require.Positive(t, m.Stats().WindowReleases)
			})
		}
	}
}
