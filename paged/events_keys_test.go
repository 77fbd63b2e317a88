package paged

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// BlockStored events carry the full digests and per-block extra keys that vLLM's
// events carry, equal to an independent chain hashing the same sequence the way
// vLLM does (the prompt at creation, then each generated token).
func TestEventsCarryDigestsAndExtraKeys(t *testing.T) {
	vh := prefix.VLLM{Algo: prefix.SHA256CBOR, PythonHashSeed: "0"}
	m := newMgr(t, 32, 4, eventsOn(false), func(c *Config) { c.Hasher = vh })
	opts := SeqOptions{Adapter: "lora", CacheSalt: "salt", MM: []prefix.MMItem{{ID: "img-a", Offset: 2, Length: 5}, {ID: "img-b", Offset: 8, Length: 2}}}
	prompt := span(100, 10)
	id, _ := prefill(t, m, prompt, opts) // blocks 0 and 1
	out := []int32{7, 8, 9, 10, 11, 12}
	for _, tok := range out { // completes blocks 2 and 3 (generated tokens)
		decode(t, m, id, tok)
	}
	evs, lost := m.TakeEvents(nil)
	require.Zero(t, lost)

	scheme, err := prefix.New(prefix.Config{BlockSize: 4, Hasher: vh})
	require.NoError(t, err)
	ch := scheme.NewChain(opts.extras())
	all := append(append([]int32(nil), prompt...), out...)
	ch.Extend(prompt)
	for i := range out {
		ch.Extend(all[:len(prompt)+i+1])
	}
	require.Equal(t, 4, ch.Len())

	blocks := 0
	for _, e := range evs {
		require.Equal(t, BlockStored, e.Kind)
		require.Len(t, e.Digests, len(e.Hashes)*32)
		require.Len(t, e.ExtraKeys, len(e.Hashes))
		if e.FirstBlock > 0 {
			require.Equal(t, ch.AppendDigest(nil, e.FirstBlock-1), e.ParentDigest)
		} else {
			require.Nil(t, e.ParentDigest)
		}
		for i, h := range e.Hashes {
			j := e.FirstBlock + i
			require.Equal(t, ch.Hash(j), h)
			d := e.Digests[i*32 : (i+1)*32]
			require.Equal(t, ch.AppendDigest(nil, j), d)
			require.Equal(t, uint64(h), binary.BigEndian.Uint64(d[24:]), "the 64-bit id is the digest's tail")
			require.Equal(t, ch.AppendExtraKeys(nil, j), e.ExtraKeys[i], "block %d", j)
			blocks++
		}
	}
	require.Equal(t, 4, blocks)
	// Block 0: the adapter, the first image, the salt, in vLLM's order.
	require.Equal(t, []prefix.ExtraKey{{Kind: prefix.KeyLoRA, Text: "lora"}, {Kind: prefix.KeyMM, Text: "img-a", Offset: 2}, {Kind: prefix.KeySalt, Text: "salt"}}, ch.AppendExtraKeys(nil, 0))
	inv(t, m)

	// pagedkv's own hasher: no digests, and no extra keys for a plain sequence.
	m = newMgr(t, 8, 4, eventsOn(false))
	prefill(t, m, span(0, 9), SeqOptions{})
	evs, _ = m.TakeEvents(nil)
	require.Len(t, evs, 1)
	require.Nil(t, evs[0].Digests)
	require.Nil(t, evs[0].ExtraKeys)
}

// embeds returns n rows of 8 bytes, row i filled from seed+i.
func embeds(seed, n int) []byte {
	out := make([]byte, 0, 8*n)
	for i := range n {
		out = binary.LittleEndian.AppendUint64(out, uint64(seed+i))
	}
	return out
}

func TestPromptEmbeds(t *testing.T) {
	m := newMgr(t, 16, 4, eventsOn(false))
	prompt := make([]int32, 9) // vLLM: token ids of an embedded prompt are 0
	for _, bad := range []SeqOptions{
		{PromptEmbeds: embeds(0, 8), EmbedRowBytes: 8},  // a row short
		{PromptEmbeds: embeds(0, 10), EmbedRowBytes: 8}, // a row too many
		{PromptEmbeds: embeds(0, 9), EmbedRowBytes: 7},  // not whole rows
		{PromptEmbeds: embeds(0, 9)},                    // no row size
		{EmbedRowBytes: 8},                              // a row size without rows
		{PromptEmbeds: embeds(0, 9), EmbedRowBytes: -8},
	} {
		_, err := m.Add(prompt, bad)
		require.ErrorIs(t, err, ErrInvalidArgument, "%d bytes, rows of %d", len(bad.PromptEmbeds), bad.EmbedRowBytes)
		_, err = m.LookupPrompt(prompt, bad)
		require.ErrorIs(t, err, ErrInvalidArgument)
	}
	require.Zero(t, m.NumSequences(), "a refused Add changes nothing")

	rows := embeds(0, 9)
	opts := SeqOptions{PromptEmbeds: rows, EmbedRowBytes: 8}
	prefill(t, m, prompt, opts)
	same := append([]byte(nil), rows...)
	rows[0] ^= 0xff // the manager copied the rows
	hit, err := m.LookupPrompt(prompt, SeqOptions{PromptEmbeds: same, EmbedRowBytes: 8})
	require.NoError(t, err)
	require.Equal(t, 8, hit, "equal embeddings share blocks")
	hit, err = m.LookupPrompt(prompt, SeqOptions{PromptEmbeds: embeds(1, 9), EmbedRowBytes: 8})
	require.NoError(t, err)
	require.Zero(t, hit, "other embeddings share nothing")
	hit, err = m.LookupPrompt(prompt, SeqOptions{})
	require.NoError(t, err)
	require.Zero(t, hit, "token ids alone share nothing with an embedded prompt")

	evs, _ := m.TakeEvents(nil)
	require.Len(t, evs, 1)
	require.Len(t, evs[0].ExtraKeys, 2)
	for j, keys := range evs[0].ExtraKeys {
		require.Equal(t, []prefix.ExtraKey{{Kind: prefix.KeyEmbeds, Digest: sha256.Sum256(same[j*32 : (j+1)*32])}}, keys)
	}
	inv(t, m)
}
