package paged

import (
	"slices"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

type recorder struct {
	stored  []BlocksStored
	removed []prefix.Hash
	cleared int
	present map[prefix.Hash]bool
	t       testing.TB
}

func (r *recorder) BlocksStored(e BlocksStored) {
	if r.present == nil {
		r.present = map[prefix.Hash]bool{}
	}
	if r.t != nil && e.HasParent {
		require.True(r.t, r.present[e.Parent], "parent %x was never reported or was removed", e.Parent)
	}
	for _, h := range e.Hashes {
		if r.t != nil {
			require.False(r.t, r.present[h], "hash %x stored twice", h)
		}
		r.present[h] = true
	}
	e.Hashes = slices.Clone(e.Hashes)
	e.Tokens = slices.Clone(e.Tokens)
	r.stored = append(r.stored, e)
}

func (r *recorder) BlocksRemoved(e BlocksRemoved) {
	for _, h := range e.Hashes {
		if r.t != nil {
			require.True(r.t, r.present[h], "removed %x that is not present", h)
		}
		delete(r.present, h)
	}
	r.removed = append(r.removed, e.Hashes...)
}

func (r *recorder) AllBlocksCleared() { r.cleared++; clear(r.present) }

func TestEvents(t *testing.T) {
	rec := &recorder{t: t}
	m := newMgr(t, 4, 2, func(c *Config) { c.Events = rec })
	a, _ := prefill(t, m, span(0, 5), SeqOptions{Adapter: "x"}) // blocks 0,1 stored
	require.Len(t, rec.stored, 1)
	ev := rec.stored[0]
	require.Len(t, ev.Hashes, 2)
	require.False(t, ev.HasParent)
	require.Equal(t, span(0, 4), ev.Tokens)
	require.Equal(t, "x", ev.Adapter)
	require.Equal(t, 2, ev.BlockSize)
	// Decode completes block 2: one event whose parent is block 1's hash.
	decode(t, m, a, 5)
	require.Len(t, rec.stored, 2)
	require.True(t, rec.stored[1].HasParent)
	require.Equal(t, ev.Hashes[1], rec.stored[1].Parent)
	// A duplicate computation of the same content reports nothing new.
	b, _ := m.Add(span(0, 5), SeqOptions{Adapter: "x"})
	_, err := m.Reserve(b, 1, 0, nil) // claims blocks 0,1
	require.NoError(t, err)
	require.NoError(t, m.Free(a))
	require.NoError(t, m.Free(b))
	// Evicting: a 4-block prompt reuses everything; each last copy is reported removed.
	prefill(t, m, span(50, 8), SeqOptions{})
	require.Len(t, rec.removed, 3)
	inv(t, m)
}
