package kvevents

import (
	"runtime"
	"testing"
)

// allocPerByte returns the bytes allocated while decoding payload with a fresh
// Decoder, per payload byte, and the decode error.
func allocPerByte(payload []byte) (float64, error) {
	var err error
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var d Decoder
	var b Batch
	err = d.Decode(payload, &b)
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(payload)), err
}

// batchOf returns the payload [0.0, [events...], nil] with n copies of event (or of
// nothing, when the count is all that is declared).
func batchOf(n int, event []byte, body bool) []byte {
	p := []byte{0x93, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xdd, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	if body {
		for range n {
			p = append(p, event...)
		}
		return append(p, 0xc0)
	}
	return append(p, make([]byte, 2*n)...) // room for the count, not events
}

// The decoder's memory is bounded by a constant times the payload, whatever the
// payload: the package documents the constant (maxDecodeAllocRatio). The shapes
// here are the worst ones: the smallest events (each costs a whole Event), the
// smallest hashes, nested extra keys, and a declared count with no events behind it.
func TestDecodeMemoryBound(t *testing.T) {
	const n = 50_000
	hashes := appendArrayLen(nil, n)
	for range n {
		hashes = append(hashes, 0x01)
	}
	removed := append(append(appendArrayLen(nil, 3), appendStr(nil, tagBlockRemoved)...), hashes...)
	removed = append(removed, 0xc0)
	tinyRemoved := append(appendStr(appendArrayLen(nil, 2), tagBlockRemoved), 0x91, 0x01)
	keys := appendArrayLen(nil, n)
	for range n {
		keys = append(keys, 0x91, 0x90) // a tuple holding an empty tuple
	}
	stored := appendMapLen(nil, 4)
	stored = append(stored, kTypeStored...)
	stored = append(append(stored, kBlockHashes...), 0x90)
	stored = append(append(stored, kTokenIds...), 0x90)
	stored = append(append(stored, kExtraKeys...), keys...)
	stored = append(stored, kBlockSize...)
	stored = append(stored, 0x10)
	stored[0] = 0x85
	typical, err := EncodeBatch(sampleBatch(8, 4, 16))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		payload []byte
		ok      bool
	}{
		{"a batch of vLLM-shaped events", typical, true},
		{"unknown events of 2 bytes", batchOf(n, []byte{0x91, 0xa0}, true), true},
		{"unknown map events of 7 bytes", batchOf(n, append(appendStr(appendMapLen(nil, 1), "type"), 0xa0), true), true},
		{"one removal of 1-byte hashes", batchOf(1, removed, true), true},
		{"removals of one hash each", batchOf(n, tinyRemoved, true), true},
		{"nested extra keys", batchOf(1, stored, true), true},
		{"declared events, none present", batchOf(n, nil, false), false},
	} {
		ratio, err := allocPerByte(c.payload)
		if (err == nil) != c.ok {
			t.Fatalf("%s: decode error %v", c.name, err)
		}
		t.Logf("%s: %d bytes, %.0f bytes allocated per payload byte", c.name, len(c.payload), ratio)
		if ratio > maxDecodeAllocRatio {
			t.Errorf("%s: %.0f bytes allocated per payload byte, documented bound %d", c.name, ratio, maxDecodeAllocRatio)
		}
	}
}
