package prefix

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/pagedkv/pagedkv/internal/testref"
	"github.com/stretchr/testify/require"
)

// hashVectors mirrors hash-vectors.json (only the fields the tests read).
type hashVectors struct {
	Cases []hashCase `json:"cases"`
}

type hashCase struct {
	Name                      string                 `json:"name"`
	Inputs                    hashInputs             `json:"inputs"`
	NoneHashSeed              string                 `json:"none_hash_seed"`
	NoneHashSeedSerializedHex string                 `json:"none_hash_seed_serialized_hex"`
	NoneHashHex               string                 `json:"none_hash_hex"`
	NumFullBlocks             int                    `json:"num_full_blocks"`
	Blocks                    []hashBlock            `json:"blocks"`
	Variants                  map[string]hashVariant `json:"variants"`
}

type hashVariant struct {
	HashAlgo                  string      `json:"hash_algo"`
	NoneHashSeed              string      `json:"none_hash_seed"`
	NoneHashSeedSerializedHex string      `json:"none_hash_seed_serialized_hex"`
	NoneHashHex               string      `json:"none_hash_hex"`
	NumFullBlocks             int         `json:"num_full_blocks"`
	Blocks                    []hashBlock `json:"blocks"`
}

type hashInputs struct {
	HashAlgo       string  `json:"hash_algo"`
	PythonHashSeed *string `json:"pythonhashseed"`
	BlockSize      int     `json:"block_size"`
	Prompt         []int32 `json:"prompt_token_ids"`
	Output         []int32 `json:"output_token_ids"`
	LoraName       *string `json:"lora_name"`
	CacheSalt      *string `json:"cache_salt"`
	MMItems        []struct {
		Identifier string `json:"identifier"`
		Offset     int    `json:"offset"`
		Length     int    `json:"length"`
	} `json:"mm_items"`
	PromptEmbeds *struct {
		Dtype string      `json:"dtype"`
		Rows  [][]float32 `json:"rows"`
	} `json:"prompt_embeds"`
}

type hashBlock struct {
	Index      int             `json:"index"`
	TokenRange [2]int          `json:"token_range"`
	HashedAt   string          `json:"hashed_at"`
	ParentHex  string          `json:"parent_hex"`
	ExtraKeys  json.RawMessage `json:"extra_keys"`
	DigestHex  string          `json:"digest_hex"`
	Uint64     struct {
		Dec uint64 `json:"dec,string"`
		Hex string `json:"hex"`
	} `json:"uint64"`
	PayloadCBORHex   string `json:"payload_cbor_hex"`
	PayloadPickleHex string `json:"payload_pickle_hex"`
}

func loadHashVectors(t testing.TB) hashVectors {
	t.Helper()
	raw, err := os.ReadFile(testref.File(t, "hash-vectors.json"))
	require.NoError(t, err)
	var v hashVectors
	require.NoError(t, json.Unmarshal(raw, &v))
	require.NotEmpty(t, v.Cases)
	return v
}

// vllmOf returns the hasher and extra keys the inputs describe.
func vllmOf(t testing.TB, in hashInputs, algo string) (VLLM, Extras) {
	t.Helper()
	v := VLLM{Algo: VLLMAlgo(algo)}
	if in.PythonHashSeed != nil {
		require.NotEmpty(t, *in.PythonHashSeed)
		v.PythonHashSeed = *in.PythonHashSeed
	}
	var ex Extras
	if in.LoraName != nil {
		ex.Adapter = *in.LoraName
	}
	if in.CacheSalt != nil {
		ex.CacheSalt = *in.CacheSalt
	}
	for _, it := range in.MMItems {
		ex.MM = append(ex.MM, MMItem{ID: it.Identifier, Offset: it.Offset, Length: it.Length})
	}
	if e := in.PromptEmbeds; e != nil {
		require.Equal(t, "float32", e.Dtype)
		require.Len(t, e.Rows, len(in.Prompt))
		for _, row := range e.Rows {
			require.Len(t, row, len(e.Rows[0]))
			for _, f := range row {
				ex.PromptEmbeds = binary.LittleEndian.AppendUint32(ex.PromptEmbeds, math.Float32bits(f))
			}
		}
		ex.EmbedRowBytes = 4 * len(e.Rows[0])
	}
	require.NoError(t, ex.Validate())
	return v, ex
}

// extraKeysOf decodes a block's extra_keys: null, or a list of strings (the LoRA name
// comes first, the salt after the multimodal keys), [identifier, offset] pairs and
// {"bytes_hex": ...} digests.
func extraKeysOf(t testing.TB, raw json.RawMessage, adapter string) []ExtraKey {
	t.Helper()
	var items []json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &items))
	var out []ExtraKey
	for i, it := range items {
		var s string
		var pair []json.RawMessage
		var b struct {
			Hex string `json:"bytes_hex"`
		}
		switch {
		case json.Unmarshal(it, &s) == nil:
			kind := KeySalt
			if i == 0 && adapter != "" {
				kind = KeyLoRA
			}
			out = append(out, ExtraKey{Kind: kind, Text: s})
		case json.Unmarshal(it, &pair) == nil:
			require.Len(t, pair, 2)
			k := ExtraKey{Kind: KeyMM}
			require.NoError(t, json.Unmarshal(pair[0], &k.Text))
			require.NoError(t, json.Unmarshal(pair[1], &k.Offset))
			out = append(out, k)
		default:
			require.NoError(t, json.Unmarshal(it, &b))
			d, err := hex.DecodeString(b.Hex)
			require.NoError(t, err)
			k := ExtraKey{Kind: KeyEmbeds}
			require.Equal(t, 32, copy(k.Digest[:], d))
			out = append(out, k)
		}
	}
	return out
}
