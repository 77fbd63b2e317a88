package paged

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// LookupChain answers exactly what LookupPrompt answers, from hashes computed once.
func TestLookupChainEqualsLookupPrompt(t *testing.T) {
	m := newMgr(t, 64, 4)
	rng := rand.New(rand.NewPCG(1, 2))
	opts := []SeqOptions{{}, {Adapter: "lora-a"}, {CacheSalt: "s"}}
	prompt := func() ([]int32, SeqOptions) {
		// Shared prefixes from a small set, so lookups hit partly.
		p := cat(span(1000*rng.IntN(3), 4*rng.IntN(6)), span(100_000+rng.IntN(50), 1+rng.IntN(9)))
		return p, opts[rng.IntN(len(opts))]
	}
	var ids []SeqID
	hits := 0
	chain := m.HashScheme().NewChain(prefix.Extras{})
	for i := range 300 {
		p, o := prompt()
		if i%3 == 0 { // cache it
			if len(ids) > 6 {
				require.NoError(t, m.Free(ids[0]))
				ids = ids[1:]
			}
			id, err := m.Add(p, o)
			require.NoError(t, err)
			if adm, err := m.Admit(id, len(p), 0, nil); err == nil && adm.Admission == AdmitNow {
				require.NoError(t, m.MarkComputed(id, adm.N))
				ids = append(ids, id)
			} else {
				require.NoError(t, m.Free(id))
			}
		}
		want, err := m.LookupPrompt(p, o)
		require.NoError(t, err)
		chain.SetExtras(m.HashScheme(), prefix.Extras{Adapter: o.Adapter, CacheSalt: o.CacheSalt})
		chain.Extend(p)
		got, err := m.LookupChain(&chain, p)
		require.NoError(t, err)
		require.Equal(t, want, got, "prompt %v opts %+v", p, o)
		if want > 0 {
			hits++
		}
		if want > 4 { // a chain cut short answers for its blocks only
			chain.Truncate(want/4 - 1)
			got, err = m.LookupChain(&chain, p)
			require.NoError(t, err)
			require.Equal(t, want-4, got)
		}
	}
	require.Greater(t, hits, 50, "the workload hits")
	inv(t, m)
}

func TestLookupChainArguments(t *testing.T) {
	m := newMgr(t, 16, 4)
	p := span(0, 13)
	prefill(t, m, p, SeqOptions{})
	_, err := m.LookupChain(nil, p)
	require.ErrorIs(t, err, ErrInvalidArgument)
	c := m.HashScheme().NewChain(prefix.Extras{})
	n, err := m.LookupChain(&c, nil)
	require.NoError(t, err)
	require.Zero(t, n)
	// Another seed hashes differently: nothing is found.
	other, err := prefix.New(prefix.Config{BlockSize: 4, Seed: 7})
	require.NoError(t, err)
	oc := other.NewChain(prefix.Extras{})
	oc.Extend(p)
	n, err = m.LookupChain(&oc, p)
	require.NoError(t, err)
	require.Zero(t, n)
	c.Extend(p)
	n, err = m.LookupChain(&c, p)
	require.NoError(t, err)
	require.Equal(t, 12, n)
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = m.LookupChain(&c, p) }))
}

// ResetEvents gives a consumer that lost events the exact cache, and the events that
// follow keep it exact.
func TestResetEventsAfterDrops(t *testing.T) {
	for _, distinct := range []bool{false, true} {
		t.Run(fmt.Sprintf("distinct=%v", distinct), func(t *testing.T) {
			m := newMgr(t, 24, 2, func(c *Config) {
				c.Events = EventOptions{Enabled: true, QueueSize: 3, PerDistinctHash: distinct}
			})
			rec := newRecorder(distinct)
			rng := rand.New(rand.NewPCG(3, 4))
			resets := 0
			var live []SeqID
			for step := range 400 {
				switch {
				case len(live) > 3 || (len(live) > 0 && rng.IntN(3) == 0):
					k := rng.IntN(len(live))
					require.NoError(t, m.Free(live[k]))
					live = append(live[:k], live[k+1:]...)
				default:
					p := cat(span(100*rng.IntN(4), 2*rng.IntN(4)), span(1000+rng.IntN(30), 1+rng.IntN(5)))
					id, err := m.Add(p, SeqOptions{})
					require.NoError(t, err)
					adm, err := m.Admit(id, len(p), 0, nil)
					if err != nil || adm.Admission != AdmitNow {
						require.NoError(t, m.Free(id))
						break
					}
					require.NoError(t, m.MarkComputed(id, adm.N))
					live = append(live, id)
				}
				if step%7 != 0 {
					continue
				}
				evs, lost := m.TakeEvents(nil)
				if lost == 0 {
					rec.apply(evs)
					require.NoError(t, rec.err)
				} else {
					resets++
					hs := m.ResetEvents(nil)
					clear(rec.count)
					rec.apply([]Event{{Kind: BlockStored, Hashes: hs, Tokens: make([]int32, 2*len(hs)), BlockSize: 2, Medium: MediumGPU}})
					require.NoError(t, rec.err)
					require.Zero(t, m.Stats().EventsQueued)
				}
				require.NoError(t, rec.matches(m))
				inv(t, m)
			}
			require.Greater(t, resets, 5, "the queue of 3 events overflowed often")
			// Prefix caching off: nothing is cached, nothing is reported.
			off := newMgr(t, 8, 2, func(c *Config) { c.DisablePrefixCaching = true })
			prefill(t, off, span(0, 5), SeqOptions{})
			require.Empty(t, off.ResetEvents(nil))
		})
	}
}
