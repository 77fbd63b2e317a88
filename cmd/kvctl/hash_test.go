package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pagedkv/pagedkv/internal/testref"
	"github.com/stretchr/testify/require"
)

type goldenBlock struct {
	DigestHex string `json:"digest_hex"`
	Uint64    struct {
		Dec uint64 `json:"dec,string"`
	} `json:"uint64"`
}

// TestHashGoldenVectors feeds every case's inputs (and every variant's, with its
// hash_algo) to kvctl hash and requires every block's digest and event id.
func TestHashGoldenVectors(t *testing.T) {
	raw, err := os.ReadFile(testref.File(t, "hash-vectors.json"))
	require.NoError(t, err)
	var vec struct {
		Cases []struct {
			Name     string                     `json:"name"`
			Inputs   map[string]json.RawMessage `json:"inputs"`
			Blocks   []goldenBlock              `json:"blocks"`
			Variants map[string]struct {
				HashAlgo string        `json:"hash_algo"`
				Blocks   []goldenBlock `json:"blocks"`
			} `json:"variants"`
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(raw, &vec))
	require.NotEmpty(t, vec.Cases)
	runs := 0
	check := func(name string, inputs map[string]json.RawMessage, blocks []goldenBlock) {
		in, err := json.Marshal(inputs)
		require.NoError(t, err)
		code, stdout, stderr := kvctl(string(in), "hash")
		require.Equal(t, exitOK, code, "%s: %s", name, stderr)
		var res hashResult
		require.NoError(t, json.Unmarshal([]byte(stdout), &res))
		require.Len(t, res.Digests, len(blocks), name)
		require.Len(t, res.EventIDs, len(blocks), name)
		for i, b := range blocks {
			require.Equal(t, b.DigestHex, res.Digests[i], "%s block %d", name, i)
			require.Equal(t, b.Uint64.Dec, res.EventIDs[i], "%s block %d", name, i)
		}
		runs++
	}
	for _, c := range vec.Cases {
		check(c.Name, c.Inputs, c.Blocks)
		for algo, v := range c.Variants {
			in := map[string]json.RawMessage{}
			for k, val := range c.Inputs {
				in[k] = val
			}
			in["hash_algo"], _ = json.Marshal(v.HashAlgo)
			check(c.Name+"/"+algo, in, v.Blocks)
		}
	}
	require.GreaterOrEqual(t, runs, 16)
}

func TestHashOutputShape(t *testing.T) {
	code, stdout, _ := kvctl(`{"hash_algo":"sha256_cbor","block_size":4,"prompt_token_ids":[1,2,3]}`, "hash")
	require.Equal(t, exitOK, code)
	require.Equal(t, `{"digests":[],"event_ids":[]}`+"\n", stdout, "no full block: empty lists, not null")
	// Output tokens complete blocks as they are appended.
	code, stdout, _ = kvctl(`{"hash_algo":"xxhash_cbor","pythonhashseed":"7","block_size":2,"prompt_token_ids":[1,2,3],"output_token_ids":[4,5,6]}`, "hash")
	require.Equal(t, exitOK, code)
	var res hashResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Len(t, res.Digests, 3)
	require.Len(t, res.Digests[0], 32, "XXH3-128 digests are 16 bytes")
}

// Bad input: exit 1 with one line on stderr and nothing on stdout; never a panic or
// an allocation the input's size does not bound.
func TestHashBadInput(t *testing.T) {
	big := `{"hash_algo":"sha256","block_size":16,"prompt_token_ids":[` + strings.Repeat("1,", 600) + `1]}`
	for name, in := range map[string]string{
		"empty":             ``,
		"not json":          `hello`,
		"array":             `[1,2]`,
		"two objects":       `{"hash_algo":"sha256","block_size":1} {}`,
		"unknown field":     `{"hash_algo":"sha256","block_size":1,"prompt_tokens":[1]}`,
		"algo type":         `{"hash_algo":1,"block_size":1}`,
		"no algo":           `{"block_size":1}`,
		"unknown algo":      `{"hash_algo":"md5","block_size":1}`,
		"xxhash no seed":    `{"hash_algo":"xxhash_cbor","block_size":1,"prompt_token_ids":[1]}`,
		"empty seed":        `{"hash_algo":"sha256","pythonhashseed":"","block_size":1}`,
		"seed type":         `{"hash_algo":"sha256","pythonhashseed":0,"block_size":1}`,
		"no block size":     `{"hash_algo":"sha256"}`,
		"negative bs":       `{"hash_algo":"sha256","block_size":-16}`,
		"huge bs":           `{"hash_algo":"sha256","block_size":1000000000000,"prompt_token_ids":[1]}`,
		"overflow bs":       `{"hash_algo":"sha256","block_size":1e300}`,
		"float bs":          `{"hash_algo":"sha256","block_size":1.5}`,
		"token range":       `{"hash_algo":"sha256","block_size":1,"prompt_token_ids":[4294967296]}`,
		"token type":        `{"hash_algo":"sha256","block_size":1,"prompt_token_ids":["1"]}`,
		"tokens not array":  `{"hash_algo":"sha256","block_size":1,"prompt_token_ids":{"a":1}}`,
		"empty lora":        `{"hash_algo":"sha256","block_size":1,"lora_name":""}`,
		"mm unsorted":       `{"hash_algo":"sha256","block_size":1,"mm_items":[{"identifier":"a","offset":5,"length":1},{"identifier":"b","offset":1,"length":1}]}`,
		"mm negative":       `{"hash_algo":"sha256","block_size":1,"mm_items":[{"identifier":"a","offset":-1,"length":1}]}`,
		"mm zero length":    `{"hash_algo":"sha256","block_size":1,"mm_items":[{"identifier":"a","offset":1,"length":0}]}`,
		"mm huge":           `{"hash_algo":"sha256","block_size":1,"mm_items":[{"identifier":"a","offset":1,"length":9000000000000000000}]}`,
		"embeds dtype":      `{"hash_algo":"sha256","block_size":1,"prompt_token_ids":[0],"prompt_embeds":{"dtype":"bfloat16","rows":[[1]]}}`,
		"embeds rows":       `{"hash_algo":"sha256","block_size":1,"prompt_token_ids":[0,0],"prompt_embeds":{"dtype":"float32","rows":[[1]]}}`,
		"embeds ragged":     `{"hash_algo":"sha256","block_size":1,"prompt_token_ids":[0,0],"prompt_embeds":{"dtype":"float32","rows":[[1,2],[1]]}}`,
		"embeds empty rows": `{"hash_algo":"sha256","block_size":1,"prompt_token_ids":[0],"prompt_embeds":{"dtype":"float32","rows":[[]]}}`,
		"embeds value":      `{"hash_algo":"sha256","block_size":1,"prompt_token_ids":[0],"prompt_embeds":{"dtype":"float32","rows":[["x"]]}}`,
		"truncated":         `{"hash_algo":"sha256","block_size":1,"prompt_token_ids":[1,2`,
	} {
		code, stdout, stderr := kvctl(in, "hash")
		require.Equal(t, exitFailure, code, "%s: %s", name, stderr)
		require.Empty(t, stdout, name)
		require.True(t, strings.HasPrefix(stderr, "kvctl hash: "), name)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "%s: one line: %q", name, stderr)
	}
	// Input size is bounded before decoding: a large array over -max-input is refused.
	code, _, stderr := kvctl(big, "hash", "-max-input", "1000")
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "larger than 1000 bytes")
	code, _, _ = kvctl(big, "hash")
	require.Equal(t, exitOK, code)
	// Usage errors: exit 2.
	for _, args := range [][]string{{"hash", "file.json"}, {"hash", "-max-input", "0"}, {"hash", "-max-input", "x"}} {
		code, _, stderr := kvctl(`{}`, args...)
		require.Equal(t, exitUsage, code, "%v", args)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "%v: %q", args, stderr)
	}
}

// The default input limit keeps the largest request's memory bounded: the refusal
// happens after reading at most limit+1 bytes.
func TestHashDefaultLimit(t *testing.T) {
	in := `{"hash_algo":"sha256","block_size":16,"prompt_token_ids":[` + strings.Repeat("7,", defaultHashMaxInput/2) + `7]}`
	code, _, stderr := kvctl(in, "hash")
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, fmt.Sprintf("larger than %d bytes", defaultHashMaxInput))
}

// FuzzHashInput: any input gives exit 0 with well-formed output, or exit 1 with one
// line on stderr; never a panic.
func FuzzHashInput(f *testing.F) {
	f.Add(`{"hash_algo":"sha256_cbor","pythonhashseed":"0","block_size":2,"prompt_token_ids":[1,2,3,4,5],"output_token_ids":[6]}`)
	f.Add(`{"hash_algo":"sha256","block_size":3,"prompt_token_ids":[0,0,0],"lora_name":"a","cache_salt":"a","mm_items":[{"identifier":"a","offset":0,"length":2}],"prompt_embeds":{"dtype":"float32","rows":[[1],[2],[3]]}}`)
	f.Add(`{"hash_algo":"xxhash","pythonhashseed":"1","block_size":1,"prompt_token_ids":[-5,2147483647]}`)
	f.Add(`{"block_size":1e9}`)
	f.Fuzz(func(t *testing.T, in string) {
		code, stdout, stderr := kvctl(in, "hash", "-max-input", "4096")
		switch code {
		case exitOK:
			var res hashResult
			require.NoError(t, json.Unmarshal([]byte(stdout), &res))
			require.Len(t, res.EventIDs, len(res.Digests))
			require.Empty(t, stderr)
		case exitFailure:
			require.Empty(t, stdout)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "%q", stderr)
		default:
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}

// The streamed output is exactly json.Marshal's form of the result, and its memory
// does not grow with the number of blocks beyond the chain's own.
func TestHashOutputStreamed(t *testing.T) {
	for _, n := range []int{0, 3, 2000} {
		toks := make([]string, n)
		for i := range toks {
			toks[i] = fmt.Sprint(i % 50000)
		}
		in := fmt.Sprintf(`{"hash_algo": "sha256_cbor", "pythonhashseed": null, "block_size": 1, "prompt_token_ids": [%s]}`, strings.Join(toks, ","))
		code, stdout, stderr := kvctl(in, "hash")
		require.Equal(t, exitOK, code, stderr)
		req, err := readHashRequest(strings.NewReader(in), 1<<20)
		require.NoError(t, err)
		c, err := hashBlocks(req)
		require.NoError(t, err)
		want := hashResult{Digests: []string{}, EventIDs: []uint64{}}
		var d []byte
		for i := range c.Len() {
			d = c.AppendDigest(d[:0], i)
			want.Digests = append(want.Digests, fmt.Sprintf("%x", d))
			want.EventIDs = append(want.EventIDs, uint64(c.Hash(i)))
		}
		out, err := json.Marshal(want)
		require.NoError(t, err)
		require.Equal(t, string(out)+"\n", stdout, "n=%d", n)
		require.Equal(t, n, c.Len(), "every full block (block size 1)")
	}
}
