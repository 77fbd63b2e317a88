package cluster

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// The approximate predictor hashes a prompt once and asks every replica with those
// hashes: its answers are each replica's own LookupPrompt answers, extra keys
// included.
func TestReplicaPredictEqualsLookupPrompt(t *testing.T) {
	p, err := NewReplicaPredictor(ReplicaConfig{Engines: 3, Blocks: 40, BlockSize: 4})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(8, 9))
	request := func() *Request {
		toks := seqTokens(4*rng.IntN(8), int32(1000*rng.IntN(3)))
		toks = append(toks, seqTokens(1+rng.IntN(6), int32(90_000+rng.IntN(20)))...)
		r := &Request{Tokens: toks}
		switch rng.IntN(4) {
		case 0:
			r.Extras.Adapter = "lora"
		case 1:
			r.Extras.CacheSalt = "salt"
		case 2:
			r.Extras.MM = []prefix.MMItem{{ID: "img", Offset: 0, Length: min(len(toks), 3)}}
		}
		return r
	}
	hits := 0
	var handles [][2]uint64
	cands := make([]Candidate, 3)
	for step := range 400 {
		r := request()
		require.NoError(t, p.Predict(context.Background(), r, cands))
		for i := range cands {
			want, err := p.Manager(i).LookupPrompt(r.Tokens, paged.SeqOptions{Adapter: r.Extras.Adapter, CacheSalt: r.Extras.CacheSalt, MM: r.Extras.MM})
			require.NoError(t, err)
			require.Equal(t, want/4, cands[i].HitBlocks, "step %d engine %d", step, i)
			hits += want / 4
		}
		e := rng.IntN(3)
		if h := p.Started(e, r); h != 0 {
			handles = append(handles, [2]uint64{uint64(e), h})
		}
		if len(handles) > 4 {
			p.Finished(int(handles[0][0]), handles[0][1], seqTokens(rng.IntN(5), 500))
			handles = handles[1:]
		}
	}
	require.Greater(t, hits, 200)
	bad := &Request{Tokens: seqTokens(5, 1), Extras: prefix.Extras{MM: []prefix.MMItem{{ID: "x", Offset: 4, Length: 3}}}}
	require.ErrorIs(t, p.Predict(context.Background(), bad, cands), ErrInvalidArgument)
}
