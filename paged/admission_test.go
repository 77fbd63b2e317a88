package paged

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// oldAdmit is the three-call admission Admit replaced (what the simulator did):
// CanAdmitSequence, then CachedPrefix, then Reserve of min(chunk, tokens − cached).
func oldAdmit(m *Manager, id SeqID, chunk int) (Admitted, error) {
	adm, err := m.CanAdmitSequence(id, 0)
	hit, _ := m.CachedPrefixTiers(id)
	cached := hit.Tokens
	out := Admitted{Admission: adm, Cached: cached, Hit: hit}
	if err != nil || adm != AdmitNow {
		return out, err
	}
	st, _ := m.State(id)
	n := min(chunk, st.Tokens-cached)
	res, err := m.Reserve(id, n, 0, nil)
	if errors.Is(err, ErrNoSpace) {
		out.Admission = AdmitLater
		return out, nil
	}
	out.Reservation = res
	return out, err
}

// Admit answers and reserves exactly as the three calls it replaces, on random
// workloads with shared prefixes, chunked prefills, frees and retries: same
// admissions, same claims, same tables, free queue and counters.
func (s suite) TestAdmitMatchesThreeCalls(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	bases := [][]int32{span(0, 40), span(1000, 40), span(2000, 40)}
	for trial := range 12 {
		mk := func() *Manager { return s.newMgr(t, 12+trial, 4, func(c *Config) { c.Watermark = 0.1 }) }
		a, b := mk(), mk()
		var waiting, running []SeqID
		for step := range 150 {
			switch op := r.IntN(5); {
			case op <= 1 || (op == 2 && len(waiting) > 0): // admit a new prompt, or retry a waiting one
				var id SeqID
				if op == 2 {
					i := r.IntN(len(waiting))
					id = waiting[i]
					waiting = append(waiting[:i], waiting[i+1:]...)
				} else {
					prompt := append([]int32(nil), bases[r.IntN(3)][:r.IntN(30)]...)
					for range 1 + r.IntN(12) {
						prompt = append(prompt, int32(r.IntN(3)))
					}
					ida, err := a.Add(prompt, SeqOptions{})
					require.NoError(t, err)
					idb, _ := b.Add(prompt, SeqOptions{})
					require.Equal(t, ida, idb)
					id = ida
				}
				chunk := 1 + r.IntN(16)
				want, err := oldAdmit(a, id, chunk)
				require.NoError(t, err)
				got, err := b.Admit(id, chunk, 0, nil)
				require.NoError(t, err)
				require.Equal(t, want, got, "trial %d step %d", trial, step)
				switch got.Admission {
				case AdmitNow:
					require.NoError(t, a.MarkComputed(id, got.N))
					require.NoError(t, b.MarkComputed(id, got.N))
					running = append(running, id)
				case AdmitLater:
					waiting = append(waiting, id)
				default:
					require.NoError(t, a.Free(id))
					require.NoError(t, b.Free(id))
				}
			case len(running) > 0: // finish one
				i := r.IntN(len(running))
				require.NoError(t, a.Free(running[i]))
				require.NoError(t, b.Free(running[i]))
				running = append(running[:i], running[i+1:]...)
			}
			sa, sb := takeSnapshot(a), takeSnapshot(b)
			if !reflect.DeepEqual(sa, sb) {
				require.Equal(t, sa, sb, "trial %d step %d", trial, step)
			}
		}
		inv(t, b)
	}
}

func (s suite) TestAdmit(t *testing.T) {
	m := s.newMgr(t, 10, 4, func(c *Config) { c.Watermark = 0.2 }) // 2 blocks kept free
	a, _ := prefill(t, m, span(0, 14), SeqOptions{})               // blocks 0..3; 0..2 cached
	// A prompt sharing 12 tokens: 3 hits held by a cost nothing; 2 more blocks for 20
	// tokens leave 4 free ≥ 2.
	b, _ := m.Add(cat(span(0, 12), span(500, 8)), SeqOptions{})
	before := takeSnapshot(m)
	adm, err := m.Admit(b, 5, 0, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitNow, adm.Admission)
	require.Equal(t, 12, adm.Cached)
	require.Equal(t, Reservation{Claimed: 12, Start: 12, N: 5}, adm.Reservation)
	require.NotEqual(t, before, takeSnapshot(m))
	st, _ := m.State(b)
	require.Equal(t, SeqState{Tokens: 20, Computed: 12, Reserved: 17, Blocks: 5, Cached: 3, Started: true, Frontier: 4}, st)
	require.Equal(t, uint64(2), m.Stats().PrefixRequests)
	// Later: a 16-token prompt needs 4 blocks; 4 free − 4 < 2.
	c, _ := m.Add(span(900, 16), SeqOptions{})
	before = takeSnapshot(m)
	adm, err = m.Admit(c, 16, 0, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitLater, adm.Admission)
	require.Zero(t, adm.Cached)
	require.Equal(t, before, takeSnapshot(m), "AdmitLater changes nothing")
	// Never: 36 tokens need 9 blocks, more than 10 − 2.
	d, _ := m.Add(span(700, 36), SeqOptions{})
	adm, err = m.Admit(d, 1, 0, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitNever, adm.Admission)
	// Freeing a makes room: c is admitted in chunks.
	require.NoError(t, m.Free(a))
	require.NoError(t, m.Free(b))
	adm, err = m.Admit(c, 6, 2, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitNow, adm.Admission)
	require.Equal(t, 6, adm.N)
	st, _ = m.State(c)
	require.Equal(t, 8, st.Reserved, "the lookahead slots follow the chunk")
	_, err = m.Admit(c, 1, 0, nil)
	require.ErrorIs(t, err, ErrInvalidArgument, "already started")
	inv(t, m)
}

// A hit on a cached free block revives it: Admit counts it as taken.
func (s suite) TestAdmitCountsRevivedHits(t *testing.T) {
	m := s.newMgr(t, 4, 4, func(c *Config) { c.Watermark, c.DisableWatermark = 0, true })
	a, _ := prefill(t, m, span(0, 8), SeqOptions{}) // blocks 0 1 cached
	require.NoError(t, m.Free(a))
	// 4 cached-or-free blocks; the new prompt hits block 0 (free) and needs 4 more
	// blocks for 20 tokens: 1 revived + 4 fresh > 4.
	b, _ := m.Add(cat(span(0, 4), span(900, 16)), SeqOptions{})
	adm, err := m.Admit(b, 16, 0, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitNever, adm.Admission)
	require.Equal(t, 4, adm.Cached)
	c, _ := m.Add(cat(span(0, 4), span(900, 8)), SeqOptions{})
	adm, err = m.Admit(c, 16, 0, nil)
	require.NoError(t, err)
	require.Equal(t, AdmitNow, adm.Admission)
	require.Equal(t, Reservation{Claimed: 4, Start: 4, N: 8}, adm.Reservation)
	require.Equal(t, []int32{0, 2, 3}, table(t, m, c))
	inv(t, m)
}
