package prefix

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// goldenRun is one case of hash-vectors.json under one algorithm.
type goldenRun struct {
	name   string
	in     hashInputs
	algo   string
	expect hashVariant
}

func goldenRuns(t *testing.T) []goldenRun {
	var runs []goldenRun
	for _, c := range loadHashVectors(t).Cases {
		runs = append(runs, goldenRun{c.Name, c.Inputs, c.Inputs.HashAlgo, hashVariant{
			HashAlgo: c.Inputs.HashAlgo, NoneHashSeed: c.NoneHashSeed,
			NoneHashSeedSerializedHex: c.NoneHashSeedSerializedHex, NoneHashHex: c.NoneHashHex,
			NumFullBlocks: c.NumFullBlocks, Blocks: c.Blocks,
		}})
		for algo, v := range c.Variants {
			runs = append(runs, goldenRun{c.Name + "/" + algo, c.Inputs, algo, v})
		}
	}
	return runs
}

// TestVLLMGoldenVectors hashes every case and variant of hash-vectors.json (made
// with vLLM's own functions) and requires every root, payload, digest and 64-bit
// event id to match byte for byte. Output tokens are appended one at a time, each
// followed by Extend, as vLLM's Request does.
func TestVLLMGoldenVectors(t *testing.T) {
	runs := goldenRuns(t)
	require.GreaterOrEqual(t, len(runs), 16)
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			v, ex := vllmOf(t, r.in, r.algo)
			s, err := New(Config{BlockSize: r.in.BlockSize, Hasher: v})
			require.NoError(t, err)

			seed, ok := v.NoneHashSeed()
			require.True(t, ok)
			require.Equal(t, r.expect.NoneHashSeed, seed)
			var ser []byte
			if s.v.pickle {
				var p pickler
				ser = p.root(nil, seed)
			} else {
				ser = cborText(nil, seed)
			}
			require.Equal(t, r.expect.NoneHashSeedSerializedHex, hex.EncodeToString(ser))
			require.Equal(t, r.expect.NoneHashHex, hex.EncodeToString(s.AppendRootDigest(nil)))

			payloads := map[int]string{}
			c := s.NewChain(ex)
			c.trace = func(i int, p []byte) { payloads[i] = hex.EncodeToString(p) }
			all := append([]int32(nil), r.in.Prompt...)
			c.Extend(all)
			for _, tok := range r.in.Output {
				all = append(all, tok)
				c.Extend(all)
			}
			require.NoError(t, c.checkInvariants())
			require.Equal(t, r.expect.NumFullBlocks, c.Len())
			require.Len(t, r.expect.Blocks, c.Len())
			for i, b := range r.expect.Blocks {
				require.Equal(t, i, b.Index)
				if want := b.PayloadCBORHex + b.PayloadPickleHex; want != "" {
					require.Equal(t, want, payloads[i], "block %d payload", i)
				}
				require.Equal(t, b.DigestHex, hex.EncodeToString(c.AppendDigest(nil, i)), "block %d digest", i)
				require.Equal(t, b.Uint64.Dec, uint64(c.Hash(i)), "block %d event id", i)
				require.Equal(t, b.Uint64.Hex, fmt.Sprintf("%016x", uint64(c.Hash(i))))
				parent := s.AppendRootDigest(nil)
				if i > 0 {
					parent = c.AppendDigest(nil, i-1)
					require.Equal(t, c.Hash(i-1), c.Parent(i))
				}
				require.Equal(t, b.ParentHex, hex.EncodeToString(parent), "block %d parent", i)
				require.Equal(t, extraKeysOf(t, b.ExtraKeys, ex.Adapter), c.AppendExtraKeys(nil, i), "block %d extra keys", i)
			}
		})
	}
}

// The incremental quirk is real: hashing the same 32 tokens in one call includes
// both multimodal items in block 1 and so gives another digest.
func TestVLLMIncrementalQuirk(t *testing.T) {
	for _, c := range loadHashVectors(t).Cases {
		if c.Name != "seed0_bs16_decode_tail_two_mm_items" {
			continue
		}
		v, ex := vllmOf(t, c.Inputs, c.Inputs.HashAlgo)
		s, err := New(Config{BlockSize: c.Inputs.BlockSize, Hasher: v})
		require.NoError(t, err)
		oneShot := s.NewChain(ex)
		oneShot.Extend(append(append([]int32(nil), c.Inputs.Prompt...), c.Inputs.Output...))
		require.Equal(t, 2, oneShot.Len())
		require.Equal(t, c.Blocks[0].DigestHex, hex.EncodeToString(oneShot.AppendDigest(nil, 0)))
		require.NotEqual(t, c.Blocks[1].DigestHex, hex.EncodeToString(oneShot.AppendDigest(nil, 1)))
		return
	}
	t.Fatal("case seed0_bs16_decode_tail_two_mm_items missing")
}

func TestVLLMValidate(t *testing.T) {
	for _, v := range []VLLM{
		{Algo: "md5"},
		{Algo: XXHashCBOR},   // random root without a seed
		{Algo: XXHashPickle}, // same
	} {
		_, err := New(Config{Hasher: v})
		require.True(t, errors.Is(err, ErrInvalidConfig), "%+v", v)
	}
	_, err := New(Config{Hasher: (*VLLM)(nil)})
	require.True(t, errors.Is(err, ErrInvalidConfig))
	for _, v := range []VLLM{{}, {Algo: SHA256Pickle}, {Algo: XXHashCBOR, PythonHashSeed: "0"}, {Algo: XXHashPickle, PythonHashSeed: "x"}} {
		s, err := New(Config{Hasher: &v})
		require.NoError(t, err, "%+v", v)
		got, ok := s.VLLM()
		require.True(t, ok)
		require.Equal(t, v.algo(), got.Algo)
	}
	s, _ := New(Config{Hasher: VLLM{}})
	require.Equal(t, 32, s.DigestSize())
	seed, ok := VLLM{}.NoneHashSeed()
	require.True(t, ok)
	require.Equal(t, DefaultNoneHashSeed, seed)
	s, _ = New(Config{Hasher: VLLM{Algo: XXHashCBOR, PythonHashSeed: "1"}})
	require.Equal(t, 16, s.DigestSize())
}
