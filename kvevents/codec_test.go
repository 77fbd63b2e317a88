package kvevents

import (
	"bytes"
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
