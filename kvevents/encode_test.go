package kvevents

import (
	"bytes"
	"errors"
	"testing"
)

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
