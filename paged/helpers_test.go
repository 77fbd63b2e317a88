package paged

import (
	"testing"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// newMgr builds a manager with n blocks of bs tokens (other settings default).
func newMgr(t testing.TB, n, bs int, mod ...func(*Config)) *Manager {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NumBlocks, cfg.BlockSize = n, bs
	for _, f := range mod {
		if f != nil {
			f(&cfg)
		}
	}
	m, err := New(cfg)
	require.NoError(t, err)
	return m
}

func inv(t testing.TB, m *Manager) {
	t.Helper()
	require.NoError(t, m.CheckInvariants())
}

func toks(vals ...int32) []int32 { return vals }

// span returns tokens from, from+1, ..., from+n-1.
func span(from, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(from + i)
	}
	return out
}

func cat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func table(t testing.TB, m *Manager, id SeqID) []int32 {
	t.Helper()
	tb, err := m.BlockTable(id, nil)
	require.NoError(t, err)
	return tb
}

func freeOrder(m *Manager) []int32 { return m.Pool().FreeOrder([]blockpool.BlockID{}) }

func refs(m *Manager, ids ...int32) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = m.Pool().RefCount(id)
	}
	return out
}

// prefill adds a prompt, reserves and computes all of it; returns id and claimed.
func prefill(t testing.TB, m *Manager, prompt []int32, opts SeqOptions) (SeqID, int) {
	t.Helper()
	id, err := m.Add(prompt, opts)
	require.NoError(t, err)
	cached, err := m.CachedPrefix(id)
	require.NoError(t, err)
	res, err := m.Reserve(id, len(prompt)-cached, 0, nil)
	require.NoError(t, err)
	require.Equal(t, cached, res.Claimed)
	require.NoError(t, m.MarkComputed(id, len(prompt)-res.Start))
	inv(t, m)
	return id, res.Claimed
}

// decode appends tok, reserves one slot, marks it computed; returns the slot.
func decode(t testing.TB, m *Manager, id SeqID, tok int32) (int64, []BlockCopy) {
	t.Helper()
	slots := make([]int64, 1)
	copies, err := m.DecodeStep([]SeqID{id}, []int32{tok}, 0, slots, nil)
	require.NoError(t, err)
	inv(t, m)
	require.NoError(t, m.MarkComputed(id, 1))
	inv(t, m)
	return slots[0], copies
}

// canAdmit is CanAdmit for arguments known to be valid.
func canAdmit(t testing.TB, m *Manager, promptLen, lookahead int) Admission {
	t.Helper()
	a, err := m.CanAdmit(promptLen, lookahead)
	require.NoError(t, err)
	return a
}

func allToTail() blockpool.ReleasePolicy { return blockpool.AllToTail{} }

type prefixHash = prefix.Hash
