package kvevents

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// Every golden payload decodes to the vector's decoded form and re-encodes to the
// identical bytes; the encoder given the case's typed input writes the same bytes.
func TestGoldenVectors(t *testing.T) {
	vf := loadVectors(t)
	var dec Decoder
	var enc Encoder
	var b Batch
	layouts := map[string]Layout{"head_map": LayoutMap, "legacy_array_like": LayoutArray}
	for _, c := range vf.Cases {
		t.Run(c.Name, func(t *testing.T) {
			payload := mustHex(t, c.MsgpackHex)
			if err := dec.Decode(payload, &b); err != nil {
				t.Fatalf("decode: %v", err)
			}
			want, ok := layouts[c.Layout]
			if !ok {
				t.Fatalf("unknown layout %q", c.Layout)
			}
			if b.Layout != want {
				t.Errorf("layout %v, want %v", b.Layout, want)
			}
			if got, want := canonBatch(&b), decodeJSON(t, c.Decoded); !reflect.DeepEqual(got, want) {
				t.Errorf("decoded\n got %#v\nwant %#v", got, want)
			}
			out, err := enc.Append(nil, &b)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.Equal(out, payload) {
				t.Errorf("round trip\n got %x\nwant %x", out, payload)
			}
			if vmi, err := (&vmiEncoder{}).Append(nil, &b); err != nil || !bytes.Equal(vmi, payload) {
				t.Errorf("vmihailenco-based encoder: %v\n got %x", err, vmi)
			}
			in := batchFromInput(t, c.Input, c.Layout)
			out, err = EncodeBatch(in)
			if err != nil {
				t.Fatalf("encode input: %v", err)
			}
			if !bytes.Equal(out, payload) {
				t.Errorf("encode input\n got %x\nwant %x", out, payload)
			}
			// Each event's bytes appear in the payload in order.
			rest := payload
			for i, h := range c.EventsHex {
				ev := mustHex(t, h)
				j := bytes.Index(rest, ev)
				if j < 0 {
					t.Fatalf("event %d bytes not found in payload", i)
				}
				rest = rest[j+len(ev):]
			}
			// A generic decoder (vmihailenco) reads the same structure.
			var generic any
			if err := msgpack.Unmarshal(payload, &generic); err != nil {
				t.Fatalf("generic decode: %v", err)
			}
			if got, want := canonVMI(generic), decodeJSON(t, c.Decoded); !reflect.DeepEqual(got, want) {
				t.Errorf("generic decode\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

// canonVMI converts vmihailenco's generic decoding into canonical values.
func canonVMI(v any) any {
	switch x := v.(type) {
	case int8:
		return canonInt(int64(x))
	case int16:
		return canonInt(int64(x))
	case int32:
		return canonInt(int64(x))
	case int64:
		return canonInt(x)
	case uint8:
		return canonUint(uint64(x))
	case uint16:
		return canonUint(uint64(x))
	case uint32:
		return canonUint(uint64(x))
	case uint64:
		return canonUint(x)
	case float64:
		return flt(math.Float64bits(x))
	case float32:
		return flt(math.Float64bits(float64(x)))
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = canonVMI(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonVMI(e)
		}
		return out
	}
	return v
}

// Decoding must leave the caller's batch untouched on error and reuse memory on
// success.
func TestDecodeErrorLeavesBatch(t *testing.T) {
	var dec Decoder
	good, err := EncodeBatch(sampleBatch(2, 4, 16))
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	if err := dec.Decode(good, &b); err != nil {
		t.Fatal(err)
	}
	before := canonBatch(&b)
	bad := append([]byte{}, good[:len(good)-3]...)
	if err := dec.Decode(bad, &b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated payload: err %v, want ErrMalformed", err)
	}
	if !reflect.DeepEqual(canonBatch(&b), before) {
		t.Fatal("failed decode changed the batch")
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"empty", nil, ErrMalformed},
		{"not an array", []byte{0x80}, ErrSchema},
		{"short batch", []byte{0x91, 0x00}, ErrSchema},
		{"ts not a number", []byte{0x93, 0xa1, 'x', 0x90, 0x00}, ErrSchema},
		{"events not an array", []byte{0x93, 0x00, 0x00, 0x00}, ErrSchema},
		{"huge array32", []byte{0x93, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00}, ErrMalformed},
		{"huge str32 tag", []byte{0x93, 0x00, 0x91, 0x91, 0xdb, 0x7f, 0xff, 0xff, 0xff}, ErrMalformed},
		{"huge map16", []byte{0x93, 0x00, 0x91, 0xde, 0xff, 0xff}, ErrMalformed},
		{"map without type", []byte{0x93, 0x00, 0x91, 0x81, 0xa1, 'x', 0x00, 0x00}, ErrSchema},
		{"type not str", []byte{0x93, 0x00, 0x91, 0x81, 0xa4, 't', 'y', 'p', 'e', 0x01, 0x00}, ErrSchema},
		{"non-str key", []byte{0x93, 0x00, 0x91, 0x81, 0x01, 0x01, 0x00}, ErrSchema},
		{"stored without hashes", append(append([]byte{0x93, 0x00, 0x91, 0x81, 0xa4, 't', 'y', 'p', 'e', 0xab}, "BlockStored"...), 0x00), ErrSchema},
		{"legacy stored short", append(append([]byte{0x93, 0x00, 0x91, 0x92, 0xab}, "BlockStored"...), 0x90, 0x00), ErrSchema},
		{"empty legacy event", []byte{0x93, 0x00, 0x91, 0x90, 0x00}, ErrSchema},
		{"trailing bytes", []byte{0x93, 0x00, 0x90, 0x00, 0x00}, ErrMalformed},
		{"reserved code", []byte{0x93, 0x00, 0x90, 0xc1}, ErrSchema},
		{"rank too large", []byte{0x93, 0x00, 0x90, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ErrSchema},
		{"deep nesting", append(append([]byte{0x94, 0x00, 0x90, 0x00}, bytes.Repeat([]byte{0x91}, 100)...), 0x00), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeBatch(c.payload)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// A batch with unknown keys, keys out of order, a trailing batch field and an
// unknown event type decodes; known values are kept and the unknown event
// re-encodes verbatim.
func TestDecodeLenient(t *testing.T) {
	var w appendWriter
	m := msgpack.NewEncoder(&w)
	_ = m.EncodeArrayLen(4)
	_ = m.EncodeFloat64(1.5)
	_ = m.EncodeArrayLen(2)
	// BlockRemoved with the tag last and an unknown key.
	_ = m.EncodeMapLen(4)
	_ = m.EncodeString("future_field")
	_ = m.EncodeArrayLen(1)
	_ = m.EncodeString("x")
	_ = m.EncodeString("block_hashes")
	_ = m.EncodeArrayLen(1)
	_ = m.EncodeInt(-5)
	_ = m.EncodeString("medium")
	_ = m.EncodeString("CPU")
	_ = m.EncodeString("type")
	_ = m.EncodeString("BlockRemoved")
	// An event type from the future.
	unknownStart := len(w.b)
	_ = m.EncodeMapLen(2)
	_ = m.EncodeString("type")
	_ = m.EncodeString("BlockPinned")
	_ = m.EncodeString("block_hashes")
	_ = m.EncodeArrayLen(1)
	_ = m.EncodeUint(7)
	unknown := append([]byte{}, w.b[unknownStart:]...)
	_ = m.EncodeInt(2)
	_ = m.EncodeString("batch field from the future")

	b, err := DecodeBatch(w.b)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 2 || b.TS != 1.5 || b.DataParallelRank != Some[int64](2) {
		t.Fatalf("batch %+v", b)
	}
	rm := b.Events[0]
	if rm.Type != BlockRemoved || len(rm.BlockHashes) != 1 || !rm.BlockHashes[0].Equal(HashInt64(-5)) ||
		rm.Medium != Some(MediumCPU) || rm.GroupIdx.Valid {
		t.Fatalf("removed %+v", rm)
	}
	if u := b.Events[1]; u.Type != Unknown || u.Tag != "BlockPinned" || !bytes.Equal(u.Raw, unknown) {
		t.Fatalf("unknown %+v", u)
	}
	out, err := EncodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, unknown) {
		t.Fatal("unknown event not re-encoded verbatim")
	}
	again, err := DecodeBatch(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(canonBatch(again), canonBatch(b)) {
		t.Fatal("re-decoded batch differs")
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	cases := map[string]Event{
		"removed with tokens":     {Type: BlockRemoved, TokenIDs: []int32{1}},
		"cleared with hashes":     {Type: AllBlocksCleared, BlockHashes: []BlockHash{HashUint64(1)}},
		"stored bad extra key":    {Type: BlockStored, ExtraKeys: Some([]any{"not a tuple"})},
		"stored struct extra key": {Type: BlockStored, ExtraKeys: Some([]any{[]any{struct{}{}}})},
		"hash both forms":         {Type: BlockRemoved, BlockHashes: []BlockHash{{Value: 1, Bytes: []byte{1}}}},
		"hash false negative":     {Type: BlockRemoved, BlockHashes: []BlockHash{{Value: 1, Negative: true}}},
		"unknown without raw":     {Type: Unknown},
		"unknown bad raw":         {Type: Unknown, Raw: []byte{0x92, 0x01}},
		"type out of range":       {Type: 9},
		"known with raw":          {Type: AllBlocksCleared, Raw: []byte{0xc0}},
	}
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			out, err := (&Encoder{}).Append(dst, &Batch{Events: []Event{ev}})
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("err = %v, want ErrInvalidEvent", err)
			}
			if !bytes.Equal(out, dst) {
				t.Fatal("failed encode changed dst")
			}
		})
	}
	_, err := EncodeBatch(&Batch{Layout: LayoutArray, Events: []Event{{Type: BlockRemoved, Locality: Some("LOCAL")}}})
	if !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("locality in legacy layout: err = %v", err)
	}
}

func TestBlockHashKey(t *testing.T) {
	digest := mustHex(t, "4d0f11636a8a819e0a57165a993ebe3ad62d2f0e4ce2438f5966a455c0fc1097")
	// The vectors pair this digest with its 64-bit form 6442017005216993431.
	if k := HashBytes(digest).Key(); k != 6442017005216993431 {
		t.Fatalf("Key = %d", k)
	}
	if k := HashInt64(-2).Key(); k != ^uint64(1) {
		t.Fatalf("negative Key = %x", k)
	}
	if k := HashBytes([]byte{1, 2}).Key(); k != 0x0102 {
		t.Fatalf("short digest Key = %x", k)
	}
	if HashUint64(5).Equal(HashInt64(5)) != true || HashUint64(5).Equal(HashBytes([]byte{5})) {
		t.Fatal("Equal")
	}
}

// sampleBatch returns events stored × (blocks of blockSize tokens) followed by
// one removal, as a realistic engine step.
func sampleBatch(events, blocks, blockSize int) *Batch {
	b := &Batch{TS: 1757500000.25, DataParallelRank: Some[int64](0)}
	h := uint64(0x9e3779b97f4a7c15)
	for e := range events {
		ev := Event{Type: BlockStored, BlockSize: blockSize, Medium: Some(MediumGPU),
			GroupIdx: Some[int64](0), KVCacheSpecKind: Some("full_attention")}
		if e > 0 {
			ev.ParentBlockHash = Some(HashUint64(h))
		}
		keys := make([]any, blocks)
		for range blocks {
			h = h*6364136223846793005 + 1442695040888963407
			ev.BlockHashes = append(ev.BlockHashes, HashUint64(h))
		}
		ev.ExtraKeys = Some(keys)
		for i := range blocks * blockSize {
			ev.TokenIDs = append(ev.TokenIDs, int32((i*7919+e*104729)%151936))
		}
		b.Events = append(b.Events, ev)
	}
	b.Events = append(b.Events, Event{Type: BlockRemoved, BlockHashes: []BlockHash{HashUint64(h ^ 1)},
		Medium: Some(MediumGPU), GroupIdx: Some[int64](0)})
	return b
}
