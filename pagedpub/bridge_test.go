package pagedpub

import (
	"errors"
	"testing"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// view is a subscriber's index of one engine: the multiset of cached block keys
// per medium, maintained from decoded batches as a router would.
type view map[string]map[uint64]int

func (v view) apply(b *kvevents.Batch) {
	for _, e := range b.Events {
		switch e.Type {
		case kvevents.BlockStored:
			for _, h := range e.BlockHashes {
				if v[e.Medium.Val] == nil {
					v[e.Medium.Val] = map[uint64]int{}
				}
				v[e.Medium.Val][h.Key()]++
			}
		case kvevents.BlockRemoved:
			for _, h := range e.BlockHashes {
				if m := v[e.Medium.Val]; m[h.Key()] > 1 {
					m[h.Key()]--
				} else {
					delete(m, h.Key())
				}
			}
		case kvevents.AllBlocksCleared:
			clear(v)
		}
	}
}

// truth is the Manager's own view: every cached block's hash per medium.
func truth(m *paged.Manager) view {
	v := view{}
	for _, c := range m.CachedBlocks(nil) {
		med := string(c.Medium)
		if v[med] == nil {
			v[med] = map[uint64]int{}
		}
		v[med][uint64(c.Hash)]++
	}
	return v
}

func (v view) equal(o view) bool {
	count := func(x view) int {
		n := 0
		for _, m := range x {
			n += len(m)
		}
		return n
	}
	if count(v) != count(o) {
		return false
	}
	for med, m := range v {
		for k, n := range m {
			if o[med][k] != n {
				return false
			}
		}
	}
	return true
}

// decodingSink decodes every published batch into a view, as a subscriber does.
type decodingSink struct {
	t    testing.TB
	v    view
	seq  uint64
	fail error
	last kvevents.Batch
}

func (s *decodingSink) Publish(b *kvevents.Batch) (uint64, error) {
	if s.fail != nil {
		return 0, s.fail
	}
	p, err := kvevents.EncodeBatch(b)
	require.NoError(s.t, err)
	d, err := kvevents.DecodeBatch(p)
	require.NoError(s.t, err)
	s.v.apply(d)
	s.last = *d
	s.seq++
	return s.seq - 1, nil
}

func TestBridgeConfig(t *testing.T) {
	sink := &decodingSink{t: t, v: view{}}
	off, err := paged.New(paged.Config{NumBlocks: 4})
	require.NoError(t, err)
	on := newManager(t, 4, 4, nil)
	for _, c := range []struct {
		m   *paged.Manager
		cfg Config
	}{
		{nil, Config{Sink: sink}},
		{off, Config{Sink: sink}},
		{on, Config{}},
		{on, Config{Sink: sink, Layout: 7}},
	} {
		_, err := New(c.m, c.cfg)
		require.ErrorIs(t, err, ErrConfig)
	}
	b, err := New(on, Config{Sink: sink})
	require.NoError(t, err)
	require.ErrorIs(t, b.SetSink(nil), ErrConfig)
}

// Whatever happens — a queue overflow, a refused batch, a new sink, a Bridge
// created over a busy Manager — the subscriber's view equals the cache after the
// next Step, and it is never left with a stale entry.
func TestBridgeNeverLeavesAStaleView(t *testing.T) {
	m, err := paged.New(paged.Config{NumBlocks: 12, BlockSize: 4, DisableWatermark: true,
		Hasher: prefix.VLLM{PythonHashSeed: "0"}, Events: paged.EventOptions{Enabled: true, QueueSize: 3}})
	require.NoError(t, err)
	// Work done before the Bridge exists: the first Step announces it.
	a := run(t, m, seqTokens(0, 9), paged.SeqOptions{Adapter: "x"})
	sink := &decodingSink{t: t, v: view{}}
	b, err := New(m, Config{Sink: sink, Clock: func() float64 { return 1 }})
	require.NoError(t, err)
	r, err := b.Step()
	require.NoError(t, err)
	require.True(t, r.Resync && r.Published)
	require.Equal(t, kvevents.AllBlocksCleared, sink.last.Events[0].Type)
	require.Equal(t, kvevents.Some("x"), sink.last.Events[1].LoraName, "a live sequence's blocks keep their description")
	require.True(t, sink.v.equal(truth(m)))

	// Overflow: four prompts in one step, a queue of three events.
	for i := range 4 {
		id := run(t, m, seqTokens(100*(i+1), 5), paged.SeqOptions{})
		require.NoError(t, m.Free(id))
	}
	r, err = b.Step()
	require.NoError(t, err)
	require.Equal(t, uint64(1), r.Dropped)
	require.True(t, r.Resync)
	require.True(t, sink.v.equal(truth(m)))

	// A refused batch: the subscriber missed it; the next step resyncs.
	sink.fail = errors.New("socket gone")
	require.NoError(t, m.Free(a))
	run(t, m, seqTokens(1000, 30), paged.SeqOptions{}) // evicts
	_, err = b.Step()
	require.ErrorIs(t, err, ErrPublish)
	sink.fail = nil
	r, err = b.Step()
	require.NoError(t, err)
	require.True(t, r.Resync)
	require.True(t, sink.v.equal(truth(m)))
	st := b.Stats()
	require.Equal(t, uint64(1), st.Failed)
	require.Equal(t, uint64(3), st.Resyncs)

	// A new sink (a restarted publisher) hears the cache from its first batch.
	fresh := &decodingSink{t: t, v: view{}}
	require.NoError(t, b.SetSink(fresh))
	r, err = b.Step()
	require.NoError(t, err)
	require.True(t, r.Resync && r.Published && r.Seq == 0)
	require.True(t, fresh.v.equal(truth(m)))
	require.NotEmpty(t, fresh.v["GPU"])

	// Resync on request; a step without events publishes nothing.
	b.Resync()
	r, _ = b.Step()
	require.True(t, r.Resync)
	r, _ = b.Step()
	require.False(t, r.Published)
}

func TestBridgeOverEmptyCacheStartsSilently(t *testing.T) {
	m := newManager(t, 8, 4, nil)
	id := run(t, m, seqTokens(0, 9), paged.SeqOptions{})
	require.NoError(t, m.Free(id))
	require.NoError(t, m.ResetPrefixCache()) // queued: stored, cleared; cache empty
	sink := &decodingSink{t: t, v: view{}}
	b, err := New(m, Config{Sink: sink})
	require.NoError(t, err)
	r, err := b.Step()
	require.NoError(t, err)
	require.False(t, r.Published, "nothing to announce, and the old history is not replayed")
	require.NoError(t, b.SetSink(&decodingSink{t: t, v: view{}}))
	r, _ = b.Step()
	require.False(t, r.Published)
}

type nopSink struct{ n uint64 }

func (s *nopSink) Publish(*kvevents.Batch) (uint64, error) { s.n++; return s.n, nil }

// A decode step's Bridge.Step allocates nothing in steady state (the Sink aside).
func TestBridgeStepAllocatesNothing(t *testing.T) {
	f := newDecodeFixture(t, 256, prefix.XXH3{})
	sink := &nopSink{}
	b, err := New(f.m, Config{Sink: sink})
	require.NoError(t, err)
	for range 200 { // warm the buffers
		f.decodeStep(t)
		_, err = b.Step()
		require.NoError(t, err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		f.decodeStep(t)
		if _, err := b.Step(); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
	require.Positive(t, b.Stats().Events)
}
