package kvevents

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/pagedkv/pagedkv/internal/testref"
	"github.com/vmihailenco/msgpack/v5"
)

// fuzzSeeds returns the golden payloads (when present) and a few built here.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	if raw, err := os.ReadFile(testref.Path("event-vectors.json")); err == nil {
		var vf vectorFile
		if json.Unmarshal(raw, &vf) == nil {
			for _, c := range vf.Cases {
				if b, err := hex.DecodeString(c.MsgpackHex); err == nil {
					seeds = append(seeds, b)
				}
			}
		}
	}
	for _, b := range []*Batch{sampleBatch(2, 3, 4), {Layout: LayoutArray, Events: sampleBatch(1, 2, 2).Events}} {
		if p, err := EncodeBatch(b); err == nil {
			seeds = append(seeds, p)
		}
	}
	return seeds
}

// FuzzDecode: any input decodes to an error wrapping ErrMalformed or ErrSchema, or
// to a batch that encodes, decodes back to the same values and re-encodes to the
// same bytes; a generic msgpack decoder reads the re-encoded bytes the same way.
//
//	go test ./kvevents -run '^$' -fuzz FuzzDecode -fuzztime 200000x
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var dec Decoder
		var b Batch
		if err := dec.Decode(payload, &b); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSchema) {
				t.Fatalf("error wraps neither sentinel: %v", err)
			}
			return
		}
		out, err := EncodeBatch(&b)
		if err != nil {
			t.Fatalf("decoded batch does not encode: %v", err)
		}
		if vmi, err := (&vmiEncoder{}).Append(nil, &b); err != nil || !bytes.Equal(vmi, out) {
			t.Fatalf("the vmihailenco-based encoder writes other bytes: %v", err)
		}
		var b2 Batch
		if err := dec.Decode(out, &b2); err != nil {
			t.Fatalf("re-encoded batch does not decode: %v\n%x", err, out)
		}
		if !reflect.DeepEqual(canonBatch(&b), canonBatch(&b2)) {
			t.Fatalf("values changed through encode/decode")
		}
		out2, err := EncodeBatch(&b2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("encoding not stable: %v", err)
		}
		if plainBatch(&b) {
			var generic any
			if err := msgpack.Unmarshal(out, &generic); err != nil {
				t.Fatalf("generic decoder refuses our bytes: %v", err)
			}
			if !reflect.DeepEqual(canonVMI(generic), canonBatch(&b)) {
				t.Fatalf("generic decoder reads different values")
			}
		}
	})
}

// plainBatch reports whether b holds only values a generic decoder renders as
// canonBatch does (no unknown events, no maps inside extra keys).
func plainBatch(b *Batch) bool {
	var plain func(v any) bool
	plain = func(v any) bool {
		switch x := v.(type) {
		case []MapEntry:
			return false
		case []any:
			for _, y := range x {
				if !plain(y) {
					return false
				}
			}
		}
		return true
	}
	for i := range b.Events {
		e := &b.Events[i]
		if e.Type == Unknown || (e.ExtraKeys.Valid && !plain(e.ExtraKeys.Val)) {
			return false
		}
	}
	return true
}

// FuzzRoundTrip builds batches from the fuzzer's bytes: every valid batch encodes
// and decodes to the same values, in both layouts.
//
//	go test ./kvevents -run '^$' -fuzz FuzzRoundTrip -fuzztime 200000x
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add(bytes.Repeat([]byte{0xff, 0x80, 0x7f, 0x01}, 40))
	f.Fuzz(func(t *testing.T, seed []byte) {
		b := batchFromBytes(seed)
		out, err := EncodeBatch(b)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if vmi, err := (&vmiEncoder{}).Append(nil, b); err != nil || !bytes.Equal(vmi, out) {
			t.Fatalf("the vmihailenco-based encoder writes other bytes: %v", err)
		}
		got, err := DecodeBatch(out)
		if err != nil {
			t.Fatalf("decode: %v\n%x", err, out)
		}
		if (len(b.Events) > 0 && got.Layout != b.Layout) || !reflect.DeepEqual(canonBatch(got), canonBatch(b)) {
			t.Fatalf("round trip changed the batch\n got %#v\nwant %#v", canonBatch(got), canonBatch(b))
		}
		again, err := EncodeBatch(got)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-encode differs: %v", err)
		}
	})
}

// byteSource hands out fuzzer bytes (zeros once exhausted).
type byteSource struct{ b []byte }

func (s *byteSource) u8() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *byteSource) u64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = s.u8()
	}
	return binary.BigEndian.Uint64(buf[:])
}

func (s *byteSource) intAny() int64 {
	switch s.u8() % 4 {
	case 0:
		return int64(int8(s.u8()))
	case 1:
		return int64(int16(s.u64()))
	case 2:
		return int64(int32(s.u64()))
	}
	return int64(s.u64())
}

func (s *byteSource) str() string {
	n := int(s.u8() % 40)
	out := make([]byte, n)
	for i := range out {
		out[i] = 'a' + s.u8()%26
	}
	return string(out)
}

func (s *byteSource) hash() BlockHash {
	switch s.u8() % 3 {
	case 0:
		return HashUint64(s.u64())
	case 1:
		return HashInt64(s.intAny())
	}
	n := int(s.u8() % 33)
	d := make([]byte, n)
	for i := range d {
		d[i] = s.u8()
	}
	return HashBytes(d)
}

func (s *byteSource) generic(depth int) any {
	switch s.u8() % 9 {
	case 0:
		return nil
	case 1:
		return s.u8()%2 == 0
	case 2:
		return s.intAny()
	case 3:
		if v := s.u64(); v > 1<<63-1 {
			return v
		}
		return int64(s.u8())
	case 4:
		return s.str()
	case 5:
		return []byte(s.str())
	case 6:
		return float64(s.intAny()) / 3
	}
	if depth > 3 {
		return nil
	}
	n := int(s.u8() % 4)
	out := make([]any, n)
	for i := range out {
		out[i] = s.generic(depth + 1)
	}
	return out
}

func optOf[T any](s *byteSource, f func() T) Opt[T] {
	if s.u8()%2 == 0 {
		return Opt[T]{}
	}
	return Some(f())
}

func batchFromBytes(seed []byte) *Batch {
	s := &byteSource{b: seed}
	b := &Batch{TS: float64(s.intAny()) / 7}
	if s.u8()%2 == 1 {
		b.Layout = LayoutArray
	}
	b.DataParallelRank = optOf(s, s.intAny)
	for range int(s.u8() % 5) {
		var e Event
		switch s.u8() % 3 {
		case 0:
			e.Type = BlockStored
			for range int(s.u8() % 20) {
				e.BlockHashes = append(e.BlockHashes, s.hash())
			}
			e.ParentBlockHash = optOf(s, s.hash)
			for range int(s.u8()) {
				e.TokenIDs = append(e.TokenIDs, int32(s.intAny()))
			}
			e.BlockSize = int(s.intAny())
			e.LoraID = optOf(s, s.intAny)
			e.Medium = optOf(s, s.str)
			e.LoraName = optOf(s, s.str)
			e.ExtraKeys = optOf(s, func() []any {
				keys := make([]any, s.u8()%5)
				for i := range keys {
					if s.u8()%2 == 1 {
						tuple := make([]any, s.u8()%3)
						for j := range tuple {
							tuple[j] = s.generic(1)
						}
						keys[i] = tuple
					}
				}
				return keys
			})
			e.GroupIdx = optOf(s, s.intAny)
			e.KVCacheSpecKind = optOf(s, s.str)
			e.KVCacheSpecSlidingWindow = optOf(s, s.intAny)
			if b.Layout == LayoutMap {
				e.Locality = optOf(s, s.str)
			}
		case 1:
			e.Type = BlockRemoved
			for range int(s.u8() % 4) {
				e.BlockHashes = append(e.BlockHashes, s.hash())
			}
			e.Medium = optOf(s, s.str)
			e.GroupIdx = optOf(s, s.intAny)
			if b.Layout == LayoutMap {
				e.Locality = optOf(s, s.str)
			}
		default:
			e.Type = AllBlocksCleared
		}
		b.Events = append(b.Events, e)
	}
	return b
}
