package kvevents

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

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
