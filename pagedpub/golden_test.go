package pagedpub

import (
	"encoding/hex"
	"testing"

	"github.com/pagedkv/pagedkv/kvevents"
	"github.com/pagedkv/pagedkv/paged"
	"github.com/pagedkv/pagedkv/prefix"
	"github.com/stretchr/testify/require"
)

const goldenTS = 1757500000.25

// vllmManager is a Manager hashing as a vLLM started with
// --prefix-caching-hash-algo sha256_cbor and PYTHONHASHSEED=0, block size 16.
func vllmManager(t testing.TB, blocks int) *paged.Manager {
	t.Helper()
	m, err := paged.New(paged.Config{NumBlocks: blocks, BlockSize: 16, DisableWatermark: true,
		Hasher: prefix.VLLM{Algo: prefix.SHA256CBOR, PythonHashSeed: "0"}, Events: paged.EventOptions{Enabled: true}})
	require.NoError(t, err)
	return m
}

func goldenBridge(t testing.TB, m *paged.Manager, opt ConvertOptions) (*Bridge, *encodingSink) {
	t.Helper()
	sink := &encodingSink{}
	b, err := New(m, Config{Sink: sink, ConvertOptions: opt, Clock: func() float64 { return goldenTS }})
	require.NoError(t, err)
	return b, sink
}

// compute admits (first call) or reserves n more tokens of id and marks them
// computed.
func compute(t testing.TB, m *paged.Manager, id paged.SeqID, n int) {
	t.Helper()
	st, err := m.State(id)
	require.NoError(t, err)
	if !st.Started {
		adm, err := m.Admit(id, n, 0, nil)
		require.NoError(t, err)
		require.Equal(t, paged.AdmitNow, adm.Admission)
		require.Equal(t, n, adm.N)
	} else {
		_, err := m.Reserve(id, n, 0, nil)
		require.NoError(t, err)
	}
	require.NoError(t, m.MarkComputed(id, n))
}

func step(t testing.TB, b *Bridge) StepResult {
	t.Helper()
	r, err := b.Step()
	require.NoError(t, err)
	require.True(t, r.Published)
	return r
}

// A Manager hashing as vLLM does publishes, step by step, exactly the bytes of
// vLLM's own golden event payloads: the same block ids, token ids, parent, extra
// keys, medium, group and spec fields, in vLLM's msgpack encoding.
func TestGoldenEngineSteps(t *testing.T) {
	want := goldenPayloads(t)
	hv := goldenHashes(t)
	plain := hv["seed0_bs16_plain"].Inputs.Prompt
	require.Len(t, plain, 56)

	t.Run("stored, stored with parent, removed, cleared", func(t *testing.T) {
		m := vllmManager(t, 4)
		b, sink := goldenBridge(t, m, ConvertOptions{})
		id, err := m.Add(plain, paged.SeqOptions{})
		require.NoError(t, err)
		compute(t, m, id, 32) // blocks 0 and 1
		step(t, b)
		require.Equal(t, hex.EncodeToString(want["stored_root_gpu"]), hex.EncodeToString(sink.last(t)))
		compute(t, m, id, 16) // block 2, child of block 1
		step(t, b)
		require.Equal(t, hex.EncodeToString(want["stored_with_parent_gpu"]), hex.EncodeToString(sink.last(t)))
		// Freed tail first, block 2 is the first cached block a new prompt evicts
		// (after the never-used block 3); computing less than a block stores nothing.
		require.NoError(t, m.Free(id))
		other, err := m.Add(make([]int32, 20), paged.SeqOptions{})
		require.NoError(t, err)
		adm, err := m.Admit(other, 20, 0, nil) // two blocks: 3, then 2
		require.NoError(t, err)
		require.Equal(t, paged.AdmitNow, adm.Admission)
		require.NoError(t, m.MarkComputed(other, 10))
		step(t, b)
		require.Equal(t, hex.EncodeToString(want["removed_gpu"]), hex.EncodeToString(sink.last(t)))
		require.NoError(t, m.Free(other))
		require.NoError(t, m.ResetPrefixCache())
		step(t, b)
		require.Equal(t, hex.EncodeToString(want["all_blocks_cleared"]), hex.EncodeToString(sink.last(t)))
		r, err := b.Step()
		require.NoError(t, err)
		require.False(t, r.Published, "a step without events publishes nothing, as vLLM")
	})

	t.Run("raw digests", func(t *testing.T) {
		m := vllmManager(t, 4)
		b, sink := goldenBridge(t, m, ConvertOptions{RawHashes: true})
		id, _ := m.Add(plain, paged.SeqOptions{})
		compute(t, m, id, 32)
		step(t, b)
		compute(t, m, id, 16)
		step(t, b)
		require.Equal(t, hex.EncodeToString(want["stored_bytes_hashes"]), hex.EncodeToString(sink.last(t)))
	})

	t.Run("LoRA", func(t *testing.T) {
		m := vllmManager(t, 4)
		b, sink := goldenBridge(t, m, ConvertOptions{LoRAIDs: map[string]int64{"sql-adapter": 1}})
		id, _ := m.Add(plain, paged.SeqOptions{Adapter: "sql-adapter"})
		compute(t, m, id, 56)
		step(t, b)
		require.Equal(t, hex.EncodeToString(want["stored_lora"]), hex.EncodeToString(sink.last(t)))
	})

	t.Run("salt and multimodal in one step", func(t *testing.T) {
		m := vllmManager(t, 8)
		b, sink := goldenBridge(t, m, ConvertOptions{})
		salted, _ := m.Add(plain[:32], paged.SeqOptions{CacheSalt: "tenant-42"})
		mmCase := hv["seed0_bs16_mm_spanning"]
		var mm []prefix.MMItem
		for _, it := range mmCase.Inputs.MMItems {
			mm = append(mm, prefix.MMItem{ID: it.Identifier, Offset: it.Offset, Length: it.Length})
		}
		img, err := m.Add(mmCase.Inputs.Prompt, paged.SeqOptions{MM: mm})
		require.NoError(t, err)
		compute(t, m, salted, 32)
		compute(t, m, img, 64)
		step(t, b)
		require.Equal(t, hex.EncodeToString(want["stored_salt_and_mm_extra_keys"]), hex.EncodeToString(sink.last(t)))
	})

	t.Run("legacy array layout", func(t *testing.T) {
		m := vllmManager(t, 4)
		sink := &encodingSink{}
		b, err := New(m, Config{Sink: sink, Layout: kvevents.LayoutArray, Clock: func() float64 { return goldenTS }})
		require.NoError(t, err)
		id, _ := m.Add(plain, paged.SeqOptions{})
		compute(t, m, id, 32)
		step(t, b)
		require.Equal(t, hex.EncodeToString(want["legacy_stored_root_gpu"]), hex.EncodeToString(sink.last(t)))
	})
}
