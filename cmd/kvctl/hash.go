package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"

	"github.com/pagedkv/pagedkv/prefix"
)

func init() {
	register(command{
		name:    "hash",
		summary: "print the block hashes vLLM computes for a request (JSON on stdin)",
		run:     runHash,
	})
}

// Limits on kvctl hash's input, so that no input can make it allocate without bound.
const (
	defaultHashMaxInput = 16 << 20 // bytes of JSON
	maxHashBlockSize    = 1 << 20  // tokens; vLLM's block sizes are far smaller
)

const hashDescription = `
Reads one JSON object on standard input, in the shape of the "inputs" objects of
vLLM's golden hash vectors, and prints {"digests": [hex, ...], "event_ids": [uint64,
...]} for every full block: the digests vLLM chains and the 64-bit ids its KV events
carry. Fields: hash_algo (sha256_cbor, xxhash_cbor, sha256, xxhash), pythonhashseed
(string, or null when the engines run without PYTHONHASHSEED), block_size,
prompt_token_ids, output_token_ids (appended one at a time, as vLLM does), lora_name,
cache_salt, mm_items ([{"identifier", "offset", "length"}] sorted by offset),
prompt_embeds ({"dtype": "float32", "rows": [[...], ...]}, one row per prompt token).
Absent or null fields mean none; unknown fields are an error.`

// hashRequest is the JSON input of kvctl hash.
type hashRequest struct {
	HashAlgo       string  `json:"hash_algo"`
	PythonHashSeed *string `json:"pythonhashseed"`
	BlockSize      int64   `json:"block_size"`
	Prompt         []int32 `json:"prompt_token_ids"`
	Output         []int32 `json:"output_token_ids"`
	LoraName       *string `json:"lora_name"`
	CacheSalt      *string `json:"cache_salt"`
	MMItems        []struct {
		Identifier string `json:"identifier"`
		Offset     int64  `json:"offset"`
		Length     int64  `json:"length"`
	} `json:"mm_items"`
	PromptEmbeds *struct {
		Dtype string      `json:"dtype"`
		Rows  [][]float32 `json:"rows"`
	} `json:"prompt_embeds"`
}

// hashResult is kvctl hash's output (written by writeHashResult).
type hashResult struct {
	Digests  []string `json:"digests"`
	EventIDs []uint64 `json:"event_ids"`
}

func runHash(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("hash", "hash [-max-input BYTES] < request.json", hashDescription)
	maxInput := fs.Int64("max-input", defaultHashMaxInput, "refuse inputs larger than this many `bytes`")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return failf(stderr, "hash", exitUsage, "unexpected argument %q: the request is read from standard input (-h for help)", fs.Arg(0))
	}
	if *maxInput <= 0 {
		return failf(stderr, "hash", exitUsage, "-max-input %d must be positive", *maxInput)
	}
	req, err := readHashRequest(stdin, *maxInput)
	if err != nil {
		return failf(stderr, "hash", exitFailure, "%v", err)
	}
	c, err := hashBlocks(req)
	if err != nil {
		return failf(stderr, "hash", exitFailure, "%v", err)
	}
	if err := writeHashResult(stdout, c); err != nil {
		return failf(stderr, "hash", exitFailure, "write: %v", err)
	}
	return exitOK
}

// writeHashResult writes c's blocks as one hashResult JSON line (json.Marshal's
// form), streamed: the memory it needs does not grow with the number of blocks.
func writeHashResult(w io.Writer, c *prefix.Chain) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"digests":[`)
	var d, hx []byte
	for i := range c.Len() {
		if i > 0 {
			bw.WriteByte(',')
		}
		d = c.AppendDigest(d[:0], i)
		hx = hex.AppendEncode(hx[:0], d)
		bw.WriteByte('"')
		bw.Write(hx)
		bw.WriteByte('"')
	}
	bw.WriteString(`],"event_ids":[`)
	var num []byte
	for i := range c.Len() {
		if i > 0 {
			bw.WriteByte(',')
		}
		num = strconv.AppendUint(num[:0], uint64(c.Hash(i)), 10)
		bw.Write(num)
	}
	bw.WriteString("]}\n")
	return bw.Flush() // bufio keeps the first write error
}

var errBadRequest = errors.New("bad request")

// readHashRequest decodes exactly one JSON object of at most limit bytes.
func readHashRequest(r io.Reader, limit int64) (*hashRequest, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: input larger than %d bytes (see -max-input)", errBadRequest, limit)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var req hashRequest
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if err == io.EOF {
			return nil, fmt.Errorf("%w: no JSON object on standard input", errBadRequest)
		}
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%w: field %s: JSON %s where %s was expected", errBadRequest, te.Field, te.Value, jsonKind(te.Type.Kind()))
		}
		return nil, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: more than one JSON value on input", errBadRequest)
	}
	return &req, nil
}

// jsonKind names what a Go kind must be in JSON.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Pointer:
		return "an object"
	case reflect.Int32:
		return "an integer in [-2^31, 2^31)"
	case reflect.Int64:
		return "an integer"
	case reflect.Float32:
		return "a number"
	}
	return k.String()
}

// hashBlocks hashes the request the way a vLLM engine would, returning the chain of
// its full blocks.
func hashBlocks(req *hashRequest) (*prefix.Chain, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, a...))
	}
	if req.HashAlgo == "" {
		return nil, bad("hash_algo is required (sha256_cbor, xxhash_cbor, sha256 or xxhash)")
	}
	if req.BlockSize <= 0 || req.BlockSize > maxHashBlockSize {
		return nil, bad("block_size %d not in [1, %d]", req.BlockSize, maxHashBlockSize)
	}
	v := prefix.VLLM{Algo: prefix.VLLMAlgo(req.HashAlgo)}
	if s := req.PythonHashSeed; s != nil {
		if *s == "" {
			return nil, bad(`pythonhashseed "" is not supported: use null when PYTHONHASHSEED is unset`)
		}
		v.PythonHashSeed = *s
	}
	var ex prefix.Extras
	if l := req.LoraName; l != nil {
		if *l == "" {
			return nil, bad(`lora_name "" is not supported: use null without LoRA`)
		}
		ex.Adapter = *l
	}
	if s := req.CacheSalt; s != nil {
		ex.CacheSalt = *s // vLLM ignores an empty salt, and so does prefix
	}
	for i, it := range req.MMItems {
		if it.Offset < 0 || it.Length <= 0 || it.Offset > math.MaxInt32 || it.Length > math.MaxInt32 {
			return nil, bad("mm_items[%d]: offset %d length %d out of range", i, it.Offset, it.Length)
		}
		ex.MM = append(ex.MM, prefix.MMItem{ID: it.Identifier, Offset: int(it.Offset), Length: int(it.Length)})
	}
	if e := req.PromptEmbeds; e != nil {
		if e.Dtype != "float32" {
			return nil, bad("prompt_embeds dtype %q not supported (float32 only)", e.Dtype)
		}
		if len(e.Rows) != len(req.Prompt) {
			return nil, bad("prompt_embeds has %d rows for %d prompt tokens", len(e.Rows), len(req.Prompt))
		}
		if len(e.Rows) > 0 {
			dim := len(e.Rows[0])
			if dim == 0 {
				return nil, bad("prompt_embeds rows are empty")
			}
			ex.PromptEmbeds = make([]byte, 0, 4*dim*len(e.Rows))
			for i, row := range e.Rows {
				if len(row) != dim {
					return nil, bad("prompt_embeds row %d has %d values, row 0 has %d", i, len(row), dim)
				}
				for _, f := range row {
					ex.PromptEmbeds = binary.LittleEndian.AppendUint32(ex.PromptEmbeds, math.Float32bits(f))
				}
			}
			ex.EmbedRowBytes = 4 * dim
		}
	}
	if err := ex.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	s, err := prefix.New(prefix.Config{BlockSize: int(req.BlockSize), Hasher: v})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRequest, err)
	}

	// As vLLM's Request: hash the prompt at creation, then after each output token.
	all := make([]int32, 0, len(req.Prompt)+len(req.Output))
	all = append(all, req.Prompt...)
	c := s.NewChain(ex)
	c.Extend(all)
	for _, t := range req.Output {
		all = append(all, t)
		c.Extend(all)
	}
	return &c, nil
}
