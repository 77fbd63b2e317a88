package kvevents

import "testing"

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
