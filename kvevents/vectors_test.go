package kvevents

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pagedkv/pagedkv/internal/testref"
)

// The golden vectors live outside the module; package internal/testref finds them.

type vectorFile struct {
	Cases []vectorCase               `json:"cases"`
	ZMQ   map[string]json.RawMessage `json:"zmq"`
}

type vectorCase struct {
	Name       string          `json:"name"`
	Layout     string          `json:"layout"`
	Input      json.RawMessage `json:"input"`
	EventsHex  []string        `json:"events_msgpack_hex"`
	MsgpackHex string          `json:"msgpack_hex"`
	Decoded    json.RawMessage `json:"decoded"`
}

// loadVectors reads event-vectors.json, skipping the test with a message when the
// file is absent.
func loadVectors(tb testing.TB) *vectorFile {
	path := testref.File(tb, "event-vectors.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if len(vf.Cases) == 0 {
		tb.Fatalf("%s: no cases", path)
	}
	return &vf
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Canonical generic values, so a decoded Batch and the vectors' JSON "decoded"
// form compare with reflect.DeepEqual: integers as decimal strings (num), floats
// as flt, bytes as []byte, maps as map[string]any, arrays as []any.
type num string
type flt uint64 // float64 bits, so NaN compares equal to itself

// canonJSON converts a JSON tree decoded with UseNumber.
func canonJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				panic(err)
			}
			return flt(math.Float64bits(f))
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			panic(s)
		}
		return num(n.String())
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = canonJSON(x[i])
		}
		return out
	case map[string]any:
		if h, ok := x["bytes_hex"]; ok && len(x) == 1 {
			b, err := hex.DecodeString(h.(string))
			if err != nil {
				panic(err)
			}
			return b
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonJSON(e)
		}
		return out
	}
	return v // nil, bool, string
}

func decodeJSON(tb testing.TB, raw []byte) any {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		tb.Fatal(err)
	}
	return canonJSON(v)
}

func canonInt(v int64) num   { return num(strconv.FormatInt(v, 10)) }
func canonUint(v uint64) num { return num(strconv.FormatUint(v, 10)) }

func canonHash(h BlockHash) any {
	switch {
	case h.Bytes != nil:
		return append([]byte{}, h.Bytes...)
	case h.Negative:
		return canonInt(int64(h.Value))
	}
	return canonUint(h.Value)
}

func canonGeneric(v any) any {
	switch x := v.(type) {
	case int64:
		return canonInt(x)
	case uint64:
		return canonUint(x)
	case float64:
		return flt(math.Float64bits(x))
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = canonGeneric(x[i])
		}
		return out
	case []byte:
		return append([]byte{}, x...)
	}
	return v
}

// canonBatch renders b the way a generic msgpack decoder sees its bytes: events as
// maps with exactly the keys written (map layout) or as positional arrays (legacy).
func canonBatch(b *Batch) any {
	events := make([]any, len(b.Events))
	for i := range b.Events {
		events[i] = canonEvent(&b.Events[i], b.Layout)
	}
	var rank any
	if b.DataParallelRank.Valid {
		rank = canonInt(b.DataParallelRank.Val)
	}
	return []any{flt(math.Float64bits(b.TS)), events, rank}
}

func optAny[T any](o Opt[T], f func(T) any) any {
	if !o.Valid {
		return nil
	}
	return f(o.Val)
}

func canonEvent(e *Event, l Layout) any {
	hashes := make([]any, len(e.BlockHashes))
	for i, h := range e.BlockHashes {
		hashes[i] = canonHash(h)
	}
	toks := make([]any, len(e.TokenIDs))
	for i, t := range e.TokenIDs {
		toks[i] = canonInt(int64(t))
	}
	str := func(s string) any { return s }
	i64 := func(v int64) any { return canonInt(v) }
	keys := func(k []any) any { return canonGeneric(k) }
	type kv struct {
		k       string
		v       any
		present bool
	}
	var fields []kv
	switch e.Type {
	case BlockStored:
		fields = []kv{
			{"block_hashes", hashes, true},
			{"parent_block_hash", optAny(e.ParentBlockHash, canonHashAny), true},
			{"token_ids", toks, true},
			{"block_size", canonInt(int64(e.BlockSize)), true},
			{"lora_id", optAny(e.LoraID, i64), true},
			{"medium", optAny(e.Medium, str), true},
			{"lora_name", optAny(e.LoraName, str), true},
			{"extra_keys", optAny(e.ExtraKeys, keys), e.ExtraKeys.Valid},
			{"group_idx", optAny(e.GroupIdx, i64), e.GroupIdx.Valid},
			{"kv_cache_spec_kind", optAny(e.KVCacheSpecKind, str), e.KVCacheSpecKind.Valid},
			{"kv_cache_spec_sliding_window", optAny(e.KVCacheSpecSlidingWindow, i64), e.KVCacheSpecSlidingWindow.Valid},
			{"locality", optAny(e.Locality, str), e.Locality.Valid},
		}
		if l == LayoutArray {
			fields = fields[:11]
		}
	case BlockRemoved:
		fields = []kv{
			{"block_hashes", hashes, true},
			{"medium", optAny(e.Medium, str), true},
			{"group_idx", optAny(e.GroupIdx, i64), e.GroupIdx.Valid},
			{"locality", optAny(e.Locality, str), e.Locality.Valid},
		}
		if l == LayoutArray {
			fields = fields[:3]
		}
	case Unknown:
		return fmt.Sprintf("unknown %q %x", e.Tag, e.Raw)
	}
	if l == LayoutArray {
		out := []any{e.Type.String()}
		for _, f := range fields {
			out = append(out, f.v)
		}
		return out
	}
	out := map[string]any{"type": e.Type.String()}
	for _, f := range fields {
		if f.present {
			out[f.k] = f.v
		}
	}
	return out
}

func canonHashAny(h BlockHash) any { return canonHash(h) }

// batchFromInput builds a Batch from a case's typed "input" object, as a caller
// of the encoder would, without going through the decoder.
func batchFromInput(tb testing.TB, raw []byte, layout string) *Batch {
	tb.Helper()
	in := decodeJSON(tb, raw).(map[string]any)
	b := &Batch{TS: math.Float64frombits(uint64(in["ts"].(flt)))}
	if layout == "legacy_array_like" {
		b.Layout = LayoutArray
	}
	if r, ok := in["data_parallel_rank"].(num); ok {
		b.DataParallelRank = Some(mustInt(tb, r))
	}
	for _, ev := range in["events"].([]any) {
		m := ev.(map[string]any)
		var e Event
		switch m["type"] {
		case "BlockStored":
			e.Type = BlockStored
		case "BlockRemoved":
			e.Type = BlockRemoved
		case "AllBlocksCleared":
			e.Type = AllBlocksCleared
		default:
			tb.Fatalf("type %v", m["type"])
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := m[k]
			switch k {
			case "type":
			case "block_hashes":
				for _, h := range v.([]any) {
					e.BlockHashes = append(e.BlockHashes, hashFromCanon(tb, h))
				}
			case "parent_block_hash":
				if v != nil {
					e.ParentBlockHash = Some(hashFromCanon(tb, v))
				}
			case "token_ids":
				for _, t := range v.([]any) {
					e.TokenIDs = append(e.TokenIDs, int32(mustInt(tb, t.(num))))
				}
			case "block_size":
				e.BlockSize = int(mustInt(tb, v.(num)))
			case "lora_id":
				e.LoraID = optFromCanon(v, func(x any) int64 { return mustInt(tb, x.(num)) })
			case "medium":
				e.Medium = optFromCanon(v, func(x any) string { return x.(string) })
			case "lora_name":
				e.LoraName = optFromCanon(v, func(x any) string { return x.(string) })
			case "extra_keys":
				e.ExtraKeys = Some(genericFromCanon(tb, v).([]any))
			case "group_idx":
				e.GroupIdx = optFromCanon(v, func(x any) int64 { return mustInt(tb, x.(num)) })
			case "kv_cache_spec_kind":
				e.KVCacheSpecKind = optFromCanon(v, func(x any) string { return x.(string) })
			case "kv_cache_spec_sliding_window":
				e.KVCacheSpecSlidingWindow = optFromCanon(v, func(x any) int64 { return mustInt(tb, x.(num)) })
			case "locality":
				e.Locality = optFromCanon(v, func(x any) string { return x.(string) })
			default:
				tb.Fatalf("unexpected input key %q", k)
			}
		}
		b.Events = append(b.Events, e)
	}
	return b
}

func optFromCanon[T any](v any, f func(any) T) Opt[T] {
	if v == nil {
		return Opt[T]{}
	}
	return Some(f(v))
}

func mustInt(tb testing.TB, n num) int64 {
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func hashFromCanon(tb testing.TB, v any) BlockHash {
	switch x := v.(type) {
	case []byte:
		return HashBytes(x)
	case num:
		if strings.HasPrefix(string(x), "-") {
			return HashInt64(mustInt(tb, x))
		}
		u, err := strconv.ParseUint(string(x), 10, 64)
		if err != nil {
			tb.Fatal(err)
		}
		return HashUint64(u)
	}
	tb.Fatalf("hash %T", v)
	return BlockHash{}
}

func genericFromCanon(tb testing.TB, v any) any {
	switch x := v.(type) {
	case num:
		if strings.HasPrefix(string(x), "-") {
			return mustInt(tb, x)
		}
		u, err := strconv.ParseUint(string(x), 10, 64)
		if err != nil {
			tb.Fatal(err)
		}
		if u <= 1<<63-1 {
			return int64(u)
		}
		return u
	case flt:
		return math.Float64frombits(uint64(x))
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = genericFromCanon(tb, x[i])
		}
		return out
	}
	return v
}
