package sim

import (
	"testing"

	"github.com/pagedkv/pagedkv/workload"
	"github.com/stretchr/testify/require"
)

// breakdownFixture drives a paged policy by hand, as the engine does, so a test can
// sample memory at the instants that matter.
type breakdownFixture struct {
	t    *testing.T
	p    *pagedPolicy
	next int
}

func newBreakdownFixture(t *testing.T, numBlocks, bs int) *breakdownFixture {
	p, err := newPagedPolicy(pagedConfig{NumBlocks: numBlocks, BlockSize: bs})
	require.NoError(t, err)
	return &breakdownFixture{t: t, p: p}
}

func (f *breakdownFixture) request(prompt []int32, out, n, beam int) *reqState {
	r := &reqState{Request: workload.Request{ID: f.next, Prompt: prompt, OutputLen: out, N: n, Beam: beam},
		slot: f.next, firstToken: -1, promptLen: len(prompt)}
	r.final = len(prompt) + out
	f.next++
	return r
}

// prefill grants r's whole prompt (the engine's admit), without committing it.
func (f *breakdownFixture) prefill(r *reqState) {
	g := f.p.prefill(r, r.promptLen)
	require.Equal(f.t, grantOK, g.status)
	r.prefilled += g.hits
	r.computed = r.prefilled
	r.stepKind, r.stepTokens = stepPrefill, g.tokens
}

// decode reserves r's next token (the engine's scheduleRunning).
func (f *breakdownFixture) decode(r *reqState, iter int) {
	require.True(f.t, f.p.decode(r, iter))
	r.stepKind, r.stepTokens = stepDecode, r.Width()
}

// commit records the iteration's work (the engine's commit).
func (f *breakdownFixture) commit(r *reqState) {
	f.p.commit(r)
	if r.stepKind == stepPrefill {
		r.prefilled += r.stepTokens
		r.computed = r.prefilled
		r.generated++
	} else {
		r.computed++
		r.generated++
	}
	r.stepKind = stepNone
}

// sample returns the O(sequences) sample after checking it equals the block-table
// walk.
func (f *breakdownFixture) sample(running ...*reqState) memSample {
	var s, ref memSample
	f.p.sample(running, &s)
	f.p.sampleByTables(running, &ref)
	require.Equal(f.t, ref, s, "sample = block-table walk")
	require.NoError(f.t, s.check())
	return s
}

// The sample's classification at the instants where sharing is subtle: a reserved
// prompt not yet computed (frontier block empty, private blocks after it), forks
// sharing a partly filled frontier block before anyone writes, the copies on write
// of the first decode, a second request hitting the first one's cached blocks, and
// beams reshuffled from one parent.
func TestPagedSampleSharingCases(t *testing.T) {
	const bs = 16
	f := newBreakdownFixture(t, 64, bs)
	prompt := seqTokens(1, 40) // 2 full blocks and 8 tokens
	a := f.request(prompt, 10, 3, 0)

	f.prefill(a) // 40 slots reserved in 3 blocks, nothing computed
	s := f.sample(a)
	require.Equal(t, memSample{capacity: 64 * bs, token: 0, reserved: 48, internal: 0, usedBlocks: 3, logical: 3, physical: 3}, s)

	f.commit(a) // computed: 3 samples fork and share all 3 blocks, the last one partly filled
	s = f.sample(a)
	require.Equal(t, memSample{capacity: 64 * bs, token: 40, reserved: 8, internal: 0, usedBlocks: 3, logical: 9, physical: 3}, s,
		"the shared frontier block counts once")

	f.decode(a, 1) // two samples copy the frontier block, the third writes in place
	s = f.sample(a)
	require.Equal(t, memSample{capacity: 64 * bs, token: 32 + 3*8, reserved: 3 * 8, internal: 0, usedBlocks: 5, logical: 9, physical: 5}, s)
	f.commit(a)

	// A second request with the same first 32 tokens hits both full blocks; its
	// output ends inside its third block: internal fragmentation.
	b := f.request(append(prompt[:32:32], seqTokens(2, 5)...), 3, 1, 0)
	f.prefill(b)
	require.Equal(t, 32, b.prefilled, "two cached blocks hit")
	s = f.sample(a, b)
	require.Equal(t, 5+1, s.usedBlocks, "b adds one block")
	require.Equal(t, 32+3*9, s.token, "shared full blocks count once; b has computed none of its own block")
	require.Equal(t, 3*7+8, s.reserved)
	require.Equal(t, bs-8, s.internal, "b's 40 tokens end half way through its block")
	f.commit(b)
	f.p.release(a)
	f.p.release(b)

	// Beams: every beam reshuffle forks from the current beams and frees the old
	// ones; the sample stays equal to the table walk through the forks' copies.
	c := f.request(seqTokens(3, 21), 40, 0, 4)
	f.prefill(c)
	f.commit(c)
	for it := 2; it < 30; it++ {
		f.sample(c)
		f.decode(c, it)
		f.sample(c)
		f.commit(c)
	}
	f.p.release(c)
	require.Zero(t, f.sample().usedBlocks)
	require.NoError(t, f.p.checkInvariants(nil))
}
