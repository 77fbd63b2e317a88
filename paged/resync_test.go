package paged

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// churn drives a random workload with shared prefixes, forks, swaps and frees: the
// operations that store, share, evict and re-register cached blocks.
type churn struct {
	t    testing.TB
	m    *Manager
	rng  *rand.Rand
	live []SeqID
	opts []SeqOptions
}

func (c *churn) step() {
	m, rng := c.m, c.rng
	switch op := rng.IntN(10); {
	case op < 4 || len(c.live) == 0: // a new prompt sharing a prefix with others
		base := int32(rng.IntN(4)) * 1000
		prompt := append(span(int(base), 4+rng.IntN(12)), span(5000+rng.IntN(50), 1+rng.IntN(6))...)
		o := SeqOptions{}
		if rng.IntN(3) == 0 {
			o.Adapter = "lora-a"
		}
		if rng.IntN(4) == 0 {
			o.CacheSalt = "tenant"
		}
		id, err := m.Add(prompt, o)
		require.NoError(c.t, err)
		adm, err := m.Admit(id, len(prompt), 0, nil)
		require.NoError(c.t, err)
		if adm.Admission != AdmitNow {
			require.NoError(c.t, m.Free(id))
			return
		}
		require.NoError(c.t, m.MarkComputed(id, adm.N))
		c.live = append(c.live, id)
	case op < 7: // decode one token
		id := c.live[rng.IntN(len(c.live))]
		if st, err := m.State(id); err != nil || st.Swapped {
			return
		}
		slots := make([]int64, 1)
		if _, err := m.DecodeStep([]SeqID{id}, []int32{int32(rng.IntN(3))}, 0, slots, nil); errors.Is(err, ErrNoSpace) {
			return
		} else {
			require.NoError(c.t, err)
		}
		require.NoError(c.t, m.MarkComputed(id, 1))
	case op == 7: // fork
		id := c.live[rng.IntN(len(c.live))]
		if child, err := m.Fork(id); err == nil {
			c.live = append(c.live, child)
		}
	case op == 8: // swap out or in
		id := c.live[rng.IntN(len(c.live))]
		if st, _ := m.State(id); st.Swapped {
			_, _ = m.SwapIn(id, nil)
		} else {
			_, _ = m.SwapOut(id, nil)
		}
	default: // free
		i := rng.IntN(len(c.live))
		require.NoError(c.t, m.Free(c.live[i]))
		c.live = append(c.live[:i], c.live[i+1:]...)
	}
	if len(c.live) > 6 {
		require.NoError(c.t, m.Free(c.live[0]))
		c.live = c.live[1:]
	}
}

// A view rebuilt from ResyncEvents equals the cache, whatever the view held before
// (stale, partial, empty), and the events queued afterwards keep it equal; after a
// queue overflow the resync is what repairs the view.
func TestResyncEventsRebuildsAnyView(t *testing.T) {
	for _, distinct := range []bool{false, true} {
		for _, hasher := range []prefix.Hasher{nil, prefix.VLLM{Algo: prefix.SHA256CBOR, PythonHashSeed: "0"}} {
			t.Run(fmt.Sprintf("distinct=%v/%T", distinct, hasher), func(t *testing.T) {
				m := newMgr(t, 24, 4, func(c *Config) {
					c.Events = EventOptions{Enabled: true, PerDistinctHash: distinct, QueueSize: 8}
					c.HostBlocks = 16
					c.Hasher = hasher
				})
				c := &churn{t: t, m: m, rng: rand.New(rand.NewPCG(7, uint64(len(fmt.Sprint(hasher)))))}
				rec := newRecorder(distinct)
				var buf []Event
				resyncs, overflows, detached := 0, 0, 0
				for i := range 1500 {
					c.step()
					if i%3 != 0 {
						continue
					}
					var lost uint64
					buf, lost = m.TakeEvents(buf[:0])
					switch {
					case lost > 0: // the view is incomplete from here: resync
						overflows++
						fallthrough
					case i%97 == 0: // a stale view: forget some entries, invent others
						for h := range rec.count {
							if c.rng.IntN(2) == 0 {
								delete(rec.count, h)
							}
						}
						rec.count[mediumHash{MediumGPU, prefix.Hash(c.rng.Uint64()), 0}] = 1
						buf = m.ResyncEvents(buf[:0])
						resyncs++
						require.Equal(t, AllBlocksCleared, buf[0].Kind)
						detached += checkResyncEvents(t, m, buf)
					}
					rec.apply(buf)
					require.NoError(t, rec.err)
					require.NoError(t, rec.matches(m), "step %d", i)
					inv(t, m)
					// A fresh subscriber joining now is rebuilt by a resync alone.
					if i%51 == 0 {
						fresh := newRecorder(distinct)
						buf = m.ResyncEvents(buf[:0])
						fresh.apply(buf)
						require.NoError(t, fresh.err)
						require.NoError(t, fresh.matches(m))
						require.NoError(t, rec.matches(m), "the resync discarded nothing the old view needed")
					}
				}
				require.Positive(t, overflows, "the small queue overflowed")
				require.Positive(t, resyncs)
				require.Positive(t, detached, "free cached blocks were re-announced")
			})
		}
	}
}

// checkResyncEvents checks what ResyncEvents promises beyond the rebuilt view:
// blocks of live sequences carry their sequence's description (digests with a
// vLLM hasher, extra keys with an adapter); other blocks carry only their key.
func checkResyncEvents(t *testing.T, m *Manager, evs []Event) (detached int) {
	t.Helper()
	_, isVLLM := m.scheme.VLLM()
	for _, e := range evs[1:] {
		require.Equal(t, BlockStored, e.Kind)
		require.Len(t, e.Tokens, len(e.Hashes)*m.bs)
		switch {
		case e.Adapter != "":
			require.Len(t, e.ExtraKeys, len(e.Hashes))
			for _, keys := range e.ExtraKeys {
				require.Equal(t, prefix.ExtraKey{Kind: prefix.KeyLoRA, Text: e.Adapter}, keys[0])
			}
		case e.Detached: // a block no live sequence holds
			detached++
			require.Len(t, e.Hashes, 1)
			require.Nil(t, e.Digests)
			require.Zero(t, e.FirstBlock)
			require.Nil(t, e.ExtraKeys)
		}
		if !e.Detached && isVLLM {
			require.Len(t, e.Digests, len(e.Hashes)*m.scheme.DigestSize())
		}
	}
	return detached
}

func TestResyncEventsDisabledAndEmpty(t *testing.T) {
	m := newMgr(t, 8, 2)
	prefill(t, m, span(0, 5), SeqOptions{})
	dst := []Event{{Kind: BlockRemoved}}
	require.Equal(t, dst, m.ResyncEvents(dst), "events off: nothing appended")

	m = newMgr(t, 8, 2, eventsOn(false))
	evs := m.ResyncEvents(nil)
	require.Equal(t, []Event{{Kind: AllBlocksCleared, Medium: MediumGPU}}, evs, "an empty cache: only the clear")
	prefill(t, m, span(0, 5), SeqOptions{})
	evs = m.ResyncEvents(evs[:0])
	require.Len(t, evs, 2)
	require.Equal(t, span(0, 4), evs[1].Tokens)
	left, lost := m.TakeEvents(nil)
	require.Empty(t, left, "the queued BlockStored was superseded by the resync")
	require.Zero(t, lost)
	inv(t, m)
}

func TestCachedBlocks(t *testing.T) {
	m := newMgr(t, 8, 2, func(c *Config) { c.HostBlocks = 4 })
	require.Empty(t, m.CachedBlocks(nil))
	a, _ := prefill(t, m, span(0, 5), SeqOptions{})
	got := m.CachedBlocks(nil)
	require.Len(t, got, 2)
	tb := table(t, m, a)
	st, _ := m.State(a)
	require.Equal(t, 2, st.Cached)
	for j, c := range got {
		require.Equal(t, MediumGPU, c.Medium)
		require.Equal(t, tb[j], c.ID)
		h, ok := m.Pool().Hash(c.ID)
		require.True(t, ok)
		require.Equal(t, prefix.Hash(h), c.Hash)
	}
	require.NoError(t, m.Free(a))
	require.Len(t, m.CachedBlocks(nil), 2, "freed blocks stay cached")
	require.NoError(t, m.ResetPrefixCache())
	require.Empty(t, m.CachedBlocks(nil))
}

// With a host prefix cache, a block cached in both tiers (an onloaded block keeps
// its host copy) is announced in both by ResyncEvents, in the per-distinct-hash form
// too; and a device block is never announced with a parent only the host holds
// (no consumer has seen it yet at that point of the events).
func TestResyncEventsBothTiers(t *testing.T) {
	for _, distinct := range []bool{false, true} {
		m := newMgr(t, 4, 4, hostCache(WriteBack, 4), eventsOn(distinct), noWatermark)
		a, _ := admitAll(t, m, span(0, 9), SeqOptions{})
		require.NoError(t, m.Free(a))
		b, _ := admitAll(t, m, span(100, 11), SeqOptions{}) // evicts a's second block to the host
		require.NoError(t, m.Free(b))
		c, adm := admitAll(t, m, span(0, 9), SeqOptions{}) // onloads it: cached in both tiers
		require.Equal(t, 4, adm.Onloaded)
		require.NoError(t, m.Free(c))
		tiers := map[prefix.Hash]int{}
		for _, cb := range m.CachedBlocks(nil) {
			tiers[cb.Hash] |= map[Medium]int{MediumGPU: 1, MediumCPU: 2}[cb.Medium]
		}
		require.Contains(t, slices.Collect(maps.Values(tiers)), 3, "a hash cached in both tiers")
		fresh := newRecorder(distinct)
		fresh.apply(m.ResyncEvents(nil))
		require.NoError(t, fresh.err)
		require.NoError(t, fresh.matches(m), "distinct %v", distinct)
	}
}
