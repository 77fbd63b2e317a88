package paged

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// BlockTables and SeqStates read a batch under one lock, equal the per-sequence
// reads, allocate nothing when their buffers are reused, and are all or nothing.
func (s suite) TestBatchedReads(t *testing.T) {
	m := s.newMgr(t, 32, 4, func(c *Config) { c.HostBlocks = 8 })
	a, _ := prefill(t, m, span(0, 10), SeqOptions{})
	b, _ := m.Fork(a)
	decode(t, m, b, 7) // copy-on-write of the shared partial block
	c, _ := prefill(t, m, span(0, 7), SeqOptions{})
	w, _ := prefill(t, m, span(300, 5), SeqOptions{})
	_, err := m.SwapOut(w, nil)
	require.NoError(t, err)
	u, _ := m.Add(span(500, 3), SeqOptions{})
	ids := []SeqID{a, b, c, u}

	tables, err := m.BlockTables(ids, nil)
	require.NoError(t, err)
	require.Len(t, tables, len(ids))
	for i, id := range ids {
		tb, _ := m.BlockTable(id, nil)
		require.True(t, slices.Equal(tb, tables[i]), "%v vs %v", tb, tables[i])
	}
	require.Zero(t, testing.AllocsPerRun(50, func() { tables, _ = m.BlockTables(ids, tables) }))
	kept := slices.Clone(tables)
	got, err := m.BlockTables([]SeqID{a, w}, tables)
	require.ErrorIs(t, err, ErrSwapped)
	require.Equal(t, kept, got, "a failed call leaves dst as it was")

	all := append(slices.Clone(ids), w)
	states, err := m.SeqStates(all, nil)
	require.NoError(t, err)
	for i, id := range all {
		st, _ := m.State(id)
		require.Equal(t, st, states[i])
	}
	require.Equal(t, int32(-1), states[4].Frontier, "swapped: no device frontier")
	require.Equal(t, int32(-1), states[3].Frontier, "unstarted: no blocks")
	require.Equal(t, tables[0][10/4], states[0].Frontier)
	require.Zero(t, testing.AllocsPerRun(50, func() { states, _ = m.SeqStates(all, states[:0]) }))
	got2, err := m.SeqStates([]SeqID{a, 12345}, states[:1])
	require.ErrorIs(t, err, ErrUnknownSequence)
	require.Len(t, got2, 1)
}

// memory is the KV breakdown of the vLLM paper's Fig. 2 that the simulator samples
// every iteration: slots holding computed tokens, slots a request will still fill,
// slots beyond its final length, block-table entries and distinct blocks.
type memory struct{ token, reserved, internal, logical, physical int }

// memoryByBlocks is the simulator's way: walk every table, take per distinct block
// the largest count any holder has computed (and will fill). O(blocks).
func memoryByBlocks(t testing.TB, m *Manager, ids []SeqID, finals []int) memory {
	bs := m.Config().BlockSize
	tok, res := map[int32]int{}, map[int32]int{}
	var out memory
	for i, id := range ids {
		st, err := m.State(id)
		require.NoError(t, err)
		tb := table(t, m, id)
		out.logical += len(tb)
		for j, b := range tb {
			tok[b] = max(tok[b], min(bs, max(0, st.Computed-j*bs)))
			res[b] = max(res[b], min(bs, max(0, finals[i]-j*bs)))
		}
	}
	out.physical = len(tok)
	for b, t := range tok {
		f := max(t, res[b])
		out.token += t
		out.reserved += f - t
		out.internal += bs - f
	}
	return out
}

// memoryBySeqs is the same breakdown from one SeqStates call and Stats, O(sequences):
// blocks before a frontier are full (bs computed tokens for whoever computed them);
// blocks after it up to Reserved are private and hold nothing computed yet, so their
// contribution follows from the sequence's own counts; only frontier blocks — shared
// by forks — need deduplicating by id and the per-holder maximum. It equals
// memoryByBlocks whenever the given sequences hold every referenced block and no
// table extends past Reserved (held blocks after a Rollback or a Fork), which is the
// simulator's situation whenever it samples.
func memoryBySeqs(t testing.TB, m *Manager, ids []SeqID, finals []int) memory {
	bs := m.Config().BlockSize
	states, err := m.SeqStates(ids, nil)
	require.NoError(t, err)
	out := memory{physical: m.Stats().UsedBlocks}
	front := map[int32][2]int{} // frontier block → (computed in it, to be filled)
	empty := 0
	for i, st := range states {
		out.logical += st.Blocks
		if st.Frontier < 0 {
			continue
		}
		j := st.Computed / bs
		f := front[st.Frontier]
		front[st.Frontier] = [2]int{max(f[0], st.Computed-j*bs), max(f[1], min(bs, max(0, finals[i]-j*bs)))}
		if n := st.Blocks - j - 1; n > 0 { // reserved blocks with nothing computed yet
			fill := min(n*bs, max(0, finals[i]-(j+1)*bs))
			out.reserved += fill
			out.internal += n*bs - fill
			empty += n
		}
	}
	out.token = (out.physical - len(front) - empty) * bs
	for _, f := range front {
		filled := max(f[0], f[1])
		out.token += f[0]
		out.reserved += filled - f[0]
		out.internal += bs - filled
	}
	return out
}

// A simulator-like run — admissions with shared prefixes, parallel samples and beams
// forked after the prompt, batched decode steps, frees — sampled after every commit:
// the O(sequences) breakdown equals the O(blocks) one.
func (s suite) TestSeqStatesAccountMemoryPerSequence(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m := s.newMgr(t, 96, 4)
	type req struct {
		seqs  []SeqID
		final int
	}
	var running []*req
	live := func(extra *req) (ids []SeqID, finals []int) {
		for _, q := range append(running, extra) {
			if q == nil {
				continue
			}
			for _, id := range q.seqs {
				ids, finals = append(ids, id), append(finals, q.final)
			}
		}
		return ids, finals
	}
	samples, shared, pending := 0, 0, 0
	check := func(extra *req) {
		ids, finals := live(extra)
		want := memoryByBlocks(t, m, ids, finals)
		require.Equal(t, want, memoryBySeqs(t, m, ids, finals), "sample %d", samples)
		samples++
		if want.logical > want.physical {
			shared++
		}
		if want.reserved > 0 {
			pending++
		}
	}
	base := span(0, 64)
	for iter := range 400 {
		if len(running) < 6 && r.IntN(2) == 0 { // admit one request, prefill at once
			prompt := append(slices.Clone(base[:r.IntN(40)]), span(1000*iter, 1+r.IntN(20))...)
			id, _ := m.Add(prompt, SeqOptions{})
			adm, err := m.Admit(id, len(prompt), 0, nil)
			require.NoError(t, err)
			if adm.Admission != AdmitNow {
				require.NoError(t, m.Free(id))
			} else {
				q := &req{seqs: []SeqID{id}, final: len(prompt) + 1 + r.IntN(30)}
				check(q) // between the prefill's reservation and its commit
				require.NoError(t, m.MarkComputed(id, adm.N))
				for range r.IntN(3) { // samples or beams share the prompt
					c, err := m.Fork(id)
					require.NoError(t, err)
					q.seqs = append(q.seqs, c)
				}
				running = append(running, q)
			}
		}
		for _, q := range running {
			if len(q.seqs) > 1 && r.IntN(3) == 0 { // a beam step: re-fork from one beam
				best := q.seqs[r.IntN(len(q.seqs))]
				c, err := m.Fork(best)
				require.NoError(t, err)
				victim := q.seqs[0]
				if victim == best {
					victim = q.seqs[1]
				}
				require.NoError(t, m.Free(victim))
				q.seqs[slices.Index(q.seqs, victim)] = c
			}
		}
		if ids, _ := live(nil); len(ids) > 0 {
			toks := make([]int32, len(ids))
			if _, err := m.DecodeStep(ids, toks, 0, make([]int64, len(ids)), nil); err == nil {
				if r.IntN(2) == 0 {
					check(nil) // between the decode step's reservation and its commit
				}
				require.NoError(t, m.MarkComputedBatch(ids, 1))
			}
		}
		for i := 0; i < len(running); i++ { // finish requests that reached their length
			q := running[i]
			if st, _ := m.State(q.seqs[0]); st.Tokens >= q.final || r.IntN(40) == 0 {
				for _, id := range q.seqs {
					require.NoError(t, m.Free(id))
				}
				running = slices.Delete(running, i, i+1)
				i--
			}
		}
		check(nil)
	}
	require.Greater(t, shared, 50, "the run must share blocks")
	require.Greater(t, pending, 50, "the run must sample reserved, uncomputed slots")
	inv(t, m)
}
