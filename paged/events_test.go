package paged

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// recorder is a consumer of the event queue: a router's view of the cache. It checks
// each event against its view as it applies it (errors collect in err) and can
// compare its view with the pool.
type recorder struct {
	distinct bool
	// windowed marks the KV-cache groups whose stored blocks may name a parent that
	// is already gone (a windowed group's chain, not its cache).
	windowed map[int]bool
	count    map[mediumHash]int // (tier, hash) → blocks carrying it (distinct: 0 or 1)
	stored   []Event            // copies of every BlockStored seen
	removed  []prefix.Hash
	cleared  int
	err      error
	buf      []Event
}

// mediumHash keys the recorder's view by tier (and KV-cache group).
type mediumHash struct {
	m Medium
	h prefix.Hash
	g int
}

func newRecorder(distinct bool) *recorder {
	return &recorder{distinct: distinct, count: map[mediumHash]int{}}
}

func (r *recorder) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// drain takes the manager's events and applies them; it fails the test on a dropped
// event or an inconsistent one.
func (r *recorder) drain(t testing.TB, m *Manager) {
	t.Helper()
	var lost uint64
	r.buf, lost = m.TakeEvents(r.buf[:0])
	require.Zero(t, lost, "events were dropped")
	r.apply(r.buf)
	require.NoError(t, r.err)
}

func (r *recorder) apply(events []Event) {
	for _, e := range events {
		if e.Medium != MediumGPU && e.Medium != MediumCPU || e.Group < 0 || e.Group >= MaxGroups {
			r.fail("event %v on medium %q group %d", e.Kind, e.Medium, e.Group)
		}
		switch e.Kind {
		case BlockStored:
			// A device block's parent is cached on the device; a host copy's parent
			// may be anywhere or gone.
			if e.HasParent && e.Medium == MediumGPU && !r.windowed[e.Group] && r.count[mediumHash{MediumGPU, e.ParentHash, e.Group}] == 0 {
				r.fail("parent %x was never stored or was removed", e.ParentHash)
			}
			if len(e.Tokens) != len(e.Hashes)*e.BlockSize || len(e.Hashes) == 0 {
				r.fail("stored %d hashes with %d tokens of block size %d", len(e.Hashes), len(e.Tokens), e.BlockSize)
			}
			for _, h := range e.Hashes {
				k := mediumHash{e.Medium, h, e.Group}
				if r.distinct && r.count[k] != 0 {
					r.fail("hash %x stored twice on %s", h, e.Medium)
				}
				r.count[k]++
			}
			c := e
			c.Hashes, c.Tokens = slices.Clone(e.Hashes), slices.Clone(e.Tokens)
			r.stored = append(r.stored, c)
		case BlockRemoved:
			if len(e.Hashes) != 1 {
				r.fail("removed %d hashes in one event", len(e.Hashes))
			}
			for _, h := range e.Hashes {
				k := mediumHash{e.Medium, h, e.Group}
				if r.count[k] == 0 {
					r.fail("removed %x that is not present on %s", h, e.Medium)
				}
				if r.count[k]--; r.count[k] == 0 {
					delete(r.count, k)
				}
				r.removed = append(r.removed, h)
			}
		case AllBlocksCleared:
			r.cleared++
			for k := range r.count {
				if k.m == e.Medium {
					delete(r.count, k)
				}
			}
		default:
			r.fail("unknown event kind %v", e.Kind)
		}
	}
}

// matches reports whether the recorder's view equals the pools' cached blocks: every
// cached block counted once (vLLM form) or every distinct hash once, per tier.
func (r *recorder) matches(m *Manager) error {
	want := map[mediumHash]int{}
	for medium, p := range map[Medium]*blockpool.Pool{MediumGPU: m.Pool(), MediumCPU: m.host} {
		if p == nil {
			continue
		}
		for id := range int32(p.NumBlocks()) {
			if ck, _, ok := p.CachedKey(id); ok {
				k := mediumHash{medium, prefix.Hash(ck.Hash), int(ck.Group)}
				if r.distinct {
					want[k] = 1
				} else {
					want[k]++
				}
			}
		}
	}
	for h, n := range want {
		if r.count[h] != n {
			return fmt.Errorf("hash %x: %d cached blocks, events say %d", h, n, r.count[h])
		}
	}
	for h, n := range r.count {
		if want[h] != n {
			return fmt.Errorf("hash %x: events say %d, cache holds %d", h, n, want[h])
		}
	}
	return nil
}

func eventsOn(distinct bool) func(*Config) {
	return func(c *Config) { c.Events = EventOptions{Enabled: true, PerDistinctHash: distinct} }
}

func TestEventsBothForms(t *testing.T) {
	for _, distinct := range []bool{false, true} {
		t.Run(fmt.Sprintf("distinct=%v", distinct), func(t *testing.T) {
			rec := newRecorder(distinct)
			m := newMgr(t, 4, 2, eventsOn(distinct))
			a, _ := prefill(t, m, span(0, 5), SeqOptions{Adapter: "x", CacheSalt: "s"}) // blocks 0,1 stored
			rec.drain(t, m)
			require.Len(t, rec.stored, 1)
			ev := rec.stored[0]
			require.Len(t, ev.Hashes, 2)
			require.False(t, ev.HasParent)
			require.Equal(t, span(0, 4), ev.Tokens)
			require.Equal(t, "x", ev.Adapter)
			require.Equal(t, "s", ev.CacheSalt)
			require.Equal(t, 2, ev.BlockSize)
			require.Zero(t, ev.FirstBlock)
			// Decode completes block 2: one event whose parent is block 1's hash.
			decode(t, m, a, 5)
			rec.drain(t, m)
			require.Len(t, rec.stored, 2)
			require.True(t, rec.stored[1].HasParent)
			require.Equal(t, ev.Hashes[1], rec.stored[1].ParentHash)
			require.Equal(t, 2, rec.stored[1].FirstBlock)
			// The same content computed again: a fork rolls back block 2's tokens and
			// recomputes them into a fresh block (block 2 is shared and cached, so it
			// cannot be written; it holds no computed token of b, so nothing is
			// copied). vLLM's form reports the duplicate registration, the distinct
			// form does not.
			b, _ := m.Fork(a)
			require.NoError(t, m.Rollback(b, 2))
			require.NoError(t, m.Append(b, 4, 5))
			res, err := m.Reserve(b, 2, 0, nil)
			require.NoError(t, err)
			require.Empty(t, res.Copies)
			require.NoError(t, m.MarkComputed(b, 2))
			rec.drain(t, m)
			if distinct {
				require.Len(t, rec.stored, 2)
			} else {
				require.Len(t, rec.stored, 3, "vLLM's form reports every registration")
				require.Equal(t, rec.stored[1].Hashes, rec.stored[2].Hashes)
			}
			require.NoError(t, rec.matches(m))
			require.NoError(t, m.Free(a))
			require.NoError(t, m.Free(b))
			// Evicting: a 4-block prompt reuses every block.
			prefill(t, m, span(50, 8), SeqOptions{})
			rec.drain(t, m)
			if distinct {
				require.Len(t, rec.removed, 3)
			} else {
				require.Len(t, rec.removed, 4, "one BlockRemoved per evicted block")
			}
			require.NoError(t, rec.matches(m))
			inv(t, m)
		})
	}
}

func TestEventsOverflowDropsTheTail(t *testing.T) {
	m := newMgr(t, 64, 2, func(c *Config) { c.Events = EventOptions{Enabled: true, QueueSize: 2} })
	for i := range 4 { // four prompts: four BlockStored events
		prefill(t, m, span(100*i, 5), SeqOptions{})
	}
	st := m.Stats()
	require.Equal(t, 2, st.EventsQueued)
	require.Equal(t, uint64(2), st.EventsDropped)
	evs, lost := m.TakeEvents(nil)
	require.Len(t, evs, 2)
	require.Equal(t, uint64(2), lost)
	require.Equal(t, span(0, 4), evs[0].Tokens, "the oldest events are kept")
	require.Equal(t, span(100, 4), evs[1].Tokens)
	// After a take the queue records again; the loss counter restarts.
	prefill(t, m, span(900, 5), SeqOptions{})
	evs, lost = m.TakeEvents(evs[:0])
	require.Len(t, evs, 1)
	require.Zero(t, lost)
	require.Equal(t, uint64(2), m.Stats().EventsDropped)

	// A token budget bounds the queue too.
	m = newMgr(t, 64, 2, func(c *Config) { c.Events = EventOptions{Enabled: true, QueueTokens: 6} })
	prefill(t, m, span(0, 5), SeqOptions{})  // 4 tokens
	prefill(t, m, span(50, 5), SeqOptions{}) // 4 more: over the budget, dropped
	prefill(t, m, span(90, 3), SeqOptions{}) // 2 would fit, but the tail is dropped
	evs, lost = m.TakeEvents(nil)
	require.Len(t, evs, 1)
	require.Equal(t, uint64(2), lost)
}

func TestEventsSlicesLiveUntilNextTake(t *testing.T) {
	m := newMgr(t, 64, 2, eventsOn(false))
	prefill(t, m, span(0, 5), SeqOptions{})
	first, _ := m.TakeEvents(nil)
	want := slices.Clone(first[0].Tokens)
	prefill(t, m, span(200, 5), SeqOptions{}) // written into the other buffer
	require.Equal(t, want, first[0].Tokens, "valid until the next TakeEvents")
	second, _ := m.TakeEvents(nil)
	require.Equal(t, span(200, 4), second[0].Tokens)
	// Disabled: nothing is queued.
	m = newMgr(t, 8, 2)
	prefill(t, m, span(0, 5), SeqOptions{})
	evs, lost := m.TakeEvents(nil)
	require.Empty(t, evs)
	require.Zero(t, lost)
}

func TestEventsResetAndSwap(t *testing.T) {
	rec := newRecorder(false)
	m := newMgr(t, 8, 4, eventsOn(false), func(c *Config) { c.HostBlocks = 8 })
	a, _ := prefill(t, m, span(0, 9), SeqOptions{}) // blocks 0, 1 stored
	_, err := m.SwapOut(a, nil)                     // released; they stay cached
	require.NoError(t, err)
	o, _ := prefill(t, m, span(100, 32), SeqOptions{}) // all 8 blocks: evicts 1 and 0
	rec.drain(t, m)
	require.Len(t, rec.stored, 2)
	require.Len(t, rec.removed, 2)
	require.NoError(t, rec.matches(m))
	_, err = m.SwapIn(a, nil)
	require.ErrorIs(t, err, ErrNoSpace)
	require.NoError(t, m.Free(o))
	_, err = m.SwapIn(a, nil) // re-registers a's two full blocks
	require.NoError(t, err)
	rec.drain(t, m)
	require.Len(t, rec.stored, 3)
	require.Equal(t, span(0, 8), rec.stored[2].Tokens)
	require.NoError(t, rec.matches(m))
	require.NoError(t, m.Free(a))
	require.NoError(t, m.ResetPrefixCache())
	rec.drain(t, m)
	require.Equal(t, 1, rec.cleared)
	require.NoError(t, rec.matches(m))
	require.Equal(t, "AllBlocksCleared", AllBlocksCleared.String())
}
