package pagedpub

import (
	"encoding/hex"
	"testing"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

// A Manager with a full-attention and a sliding-window group (vLLM's hybrid
// allocator) announces each group's blocks with its group_idx and spec: the
// sliding-window group's BlockStored is byte for byte vLLM's golden payload
// stored_sliding_window_group (group_idx 1, kv_cache_spec_kind "sliding_window",
// kv_cache_spec_sliding_window 4096).
func TestGroupsCarrySpecKinds(t *testing.T) {
	want := goldenPayloads(t)
	plain := goldenHashes(t)["seed0_bs16_plain"].Inputs.Prompt
	m, err := paged.New(paged.Config{NumBlocks: 8, BlockSize: 16, DisableWatermark: true,
		Hasher: prefix.VLLM{Algo: prefix.SHA256CBOR, PythonHashSeed: "0"}, Events: paged.EventOptions{Enabled: true},
		Groups: []paged.KVGroup{{Kind: paged.FullAttention}, {Kind: paged.SlidingWindow, Window: 4096}}})
	require.NoError(t, err)
	b, sink := goldenBridge(t, m, ConvertOptions{})
	id, err := m.Add(plain[:17], paged.SeqOptions{})
	require.NoError(t, err)
	compute(t, m, id, 16) // block 0 of both groups
	step(t, b)

	batch, err := kvevents.DecodeBatch(sink.last(t))
	require.NoError(t, err)
	require.Len(t, batch.Events, 2)
	byGroup := map[int64]kvevents.Event{}
	for _, e := range batch.Events {
		require.Equal(t, kvevents.BlockStored, e.Type)
		byGroup[e.GroupIdx.Val] = e
	}
	require.Equal(t, kvevents.Some(SpecKindFullAttention), byGroup[0].KVCacheSpecKind)
	require.False(t, byGroup[0].KVCacheSpecSlidingWindow.Valid)
	one := kvevents.Batch{TS: goldenTS, Events: []kvevents.Event{byGroup[1]}, DataParallelRank: kvevents.Some(int64(0))}
	got, err := kvevents.EncodeBatch(&one)
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(want["stored_sliding_window_group"]), hex.EncodeToString(got))
}

// Chunked local attention is announced as vLLM's "chunked_local_attention" (vLLM
// sends no chunk size); a group index the options do not know is full attention.
func TestConverterChunkedLocalSpec(t *testing.T) {
	c := NewConverter(ConvertOptions{Groups: []paged.KVGroup{{Kind: paged.FullAttention}, {Kind: paged.ChunkedLocal, Window: 8}}})
	ev := func(g int) paged.Event {
		return paged.Event{Kind: paged.BlockStored, Medium: paged.MediumGPU, Hashes: []prefix.Hash{1}, Tokens: seqTokens(0, 4), BlockSize: 4, Group: g}
	}
	out := c.Append(nil, []paged.Event{ev(1), ev(5)})
	require.Len(t, out, 2)
	require.Equal(t, kvevents.Some(SpecKindChunkedLocal), out[0].KVCacheSpecKind)
	require.False(t, out[0].KVCacheSpecSlidingWindow.Valid)
	require.Equal(t, kvevents.Some(int64(1)), out[0].GroupIdx)
	require.Equal(t, kvevents.Some(SpecKindFullAttention), out[1].KVCacheSpecKind)
}
