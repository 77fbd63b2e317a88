package pagedpub

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

func newManager(t testing.TB, blocks, bs int, h prefix.Hasher) *paged.Manager {
	t.Helper()
	m, err := paged.New(paged.Config{NumBlocks: blocks, BlockSize: bs, DisableWatermark: true, Hasher: h,
		Events: paged.EventOptions{Enabled: true}})
	require.NoError(t, err)
	return m
}

// run adds a prompt, computes all of it and returns its id.
func run(t testing.TB, m *paged.Manager, prompt []int32, o paged.SeqOptions) paged.SeqID {
	t.Helper()
	id, err := m.Add(prompt, o)
	require.NoError(t, err)
	adm, err := m.Admit(id, len(prompt), 0, nil)
	require.NoError(t, err)
	require.Equal(t, paged.AdmitNow, adm.Admission)
	require.NoError(t, m.MarkComputed(id, adm.N))
	return id
}

func seqTokens(from, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(from + i)
	}
	return out
}

// In raw-hash mode a BlockRemoved carries the very bytes its BlockStored carried
// (vLLM's digests for a vLLM hasher, 8 bytes for pagedkv's own), also for blocks
// that were stored twice, and the Converter remembers nothing once blocks are gone.
func TestConverterRawHashesRemoveWhatWasStored(t *testing.T) {
	for _, h := range []prefix.Hasher{prefix.XXH3{}, prefix.VLLM{PythonHashSeed: "0"}, prefix.VLLM{Algo: prefix.XXHashCBOR, PythonHashSeed: "7"}} {
		m := newManager(t, 6, 4, h)
		conv := NewConverter(ConvertOptions{RawHashes: true})
		stored := map[uint64][]byte{}
		var removed int
		var evs []paged.Event
		var out []kvevents.Event
		check := func() {
			evs, _ = m.TakeEvents(evs[:0])
			out = conv.Append(out[:0], evs)
			require.NoError(t, conv.checkInvariants())
			require.Len(t, out, len(evs))
			for i, e := range out {
				for _, bh := range e.BlockHashes {
					require.True(t, bh.IsBytes())
					key := bh.Key()
					switch e.Type {
					case kvevents.BlockStored:
						require.Equal(t, uint64(evs[i].Hashes[0]), e.BlockHashes[0].Key(), "Key is the 64-bit id")
						if prev, ok := stored[key]; ok {
							require.Equal(t, prev, bh.Bytes)
						}
						stored[key] = bytes.Clone(bh.Bytes)
					case kvevents.BlockRemoved:
						require.Equal(t, stored[key], bh.Bytes, "removed carries the stored digest")
						removed++
					}
				}
			}
		}
		a := run(t, m, seqTokens(0, 9), paged.SeqOptions{}) // blocks 0, 1
		check()
		// The same content computed again into other blocks: a duplicate registration.
		b := run(t, m, seqTokens(0, 9), paged.SeqOptions{})
		check()
		require.NoError(t, m.Free(a))
		require.NoError(t, m.Free(b))
		run(t, m, seqTokens(100, 21), paged.SeqOptions{}) // 6 blocks: evicts everything
		check()
		require.Equal(t, 2, removed, "the two blocks both prompts hit, each removed once")
		scheme, err := prefix.New(prefix.Config{Hasher: h})
		require.NoError(t, err)
		for k, d := range stored {
			require.Len(t, d, scheme.DigestSize())
			require.Equal(t, binary.BigEndian.AppendUint64(nil, k), d[len(d)-8:])
		}
		cached := m.Stats().CachedBlocks
		require.Len(t, conv.digests, cached, "one remembered digest per cached hash")
	}
}

func TestConverterFields(t *testing.T) {
	m := newManager(t, 16, 4, prefix.VLLM{PythonHashSeed: "0"})
	rows := make([]byte, 0, 9*8)
	for i := range 9 {
		rows = binary.LittleEndian.AppendUint64(rows, uint64(i))
	}
	run(t, m, make([]int32, 9), paged.SeqOptions{Adapter: "unknown-lora", PromptEmbeds: rows, EmbedRowBytes: 8,
		MM: []prefix.MMItem{{ID: "img", Offset: 3, Length: 2}}})
	evs, _ := m.TakeEvents(nil)
	out := NewConverter(ConvertOptions{LoRAIDs: map[string]int64{"other": 4}}).Append(nil, evs)
	require.Len(t, out, 1)
	e := out[0]
	require.Equal(t, kvevents.Some("unknown-lora"), e.LoraName)
	require.False(t, e.LoraID.Valid, "an adapter without a known id: lora_id None")
	require.Equal(t, kvevents.Some("GPU"), e.Medium)
	require.Equal(t, kvevents.Some(int64(0)), e.GroupIdx)
	require.Equal(t, kvevents.Some(SpecKindFullAttention), e.KVCacheSpecKind)
	require.False(t, e.KVCacheSpecSlidingWindow.Valid)
	require.False(t, e.ParentBlockHash.Valid)
	require.Len(t, e.TokenIDs, 8)
	d0, d1 := sha256.Sum256(rows[:32]), sha256.Sum256(rows[32:64])
	require.Equal(t, []any{
		[]any{"unknown-lora", []any{"img", int64(3)}, d0[:]},
		[]any{"unknown-lora", []any{"img", int64(-1)}, d1[:]}, // the item spans both blocks
	}, e.ExtraKeys.Val)
	require.NoError(t, (&kvevents.Batch{Events: out}).Validate())
}

// Events no Manager emits are skipped, not a panic: a store or removal without hashes,
// digests that do not divide among the hashes.
func TestConverterSkipsMalformedEvents(t *testing.T) {
	for _, raw := range []bool{false, true} {
		c := NewConverter(ConvertOptions{RawHashes: raw})
		evs := []paged.Event{
			{Kind: paged.BlockRemoved, Medium: paged.MediumGPU},
			{Kind: paged.BlockStored, Medium: paged.MediumGPU, Digests: make([]byte, 32), BlockSize: 16},
			{Kind: paged.BlockStored, Medium: paged.MediumGPU, Hashes: []prefix.Hash{1, 2}, Digests: make([]byte, 3), BlockSize: 16},
			{Kind: paged.BlockStored, Medium: paged.MediumGPU, Hashes: []prefix.Hash{7}, Tokens: seqTokens(0, 16), BlockSize: 16},
		}
		out := c.Append(nil, evs)
		require.Len(t, out, 1, "raw %v", raw)
		require.Equal(t, kvevents.BlockStored, out[0].Type)
		require.Equal(t, uint64(7), out[0].BlockHashes[0].Key())
	}
}
