package kvevents

import "testing"

func TestRing(t *testing.T) {
	r := newRing(4)
	if got := r.from(0, nil); len(got) != 0 {
		t.Fatal(got)
	}
	for s := uint64(0); s < 10; s++ {
		r.push(s, []byte{byte(s)})
		if err := r.checkInvariants(); err != nil {
			t.Fatal(err)
		}
	}
	for start, want := range map[uint64][]uint64{0: {6, 7, 8, 9}, 7: {7, 8, 9}, 9: {9}, 10: nil, EndSeq: nil} {
		var got []uint64
		for _, it := range r.from(start, nil) {
			got = append(got, it.seq)
			if it.payload[0] != byte(it.seq) {
				t.Fatal("payload mismatch")
			}
		}
		if len(got) != len(want) || (len(want) > 0 && (got[0] != want[0] || got[len(got)-1] != want[len(want)-1])) {
			t.Errorf("from(%d) = %v, want %v", start, got, want)
		}
	}
}

// The replay buffer takes memory as batches arrive, never BufferSteps slots up
// front: a publisher configured for a huge buffer starts, and keeps what it publishes.
func TestRingGrowsWithUse(t *testing.T) {
	r := newRing(1 << 50)
	for s := uint64(0); s < 100; s++ {
		r.push(s, []byte{byte(s)})
	}
	if err := r.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	if got := r.from(0, nil); len(got) != 100 || cap(r.items) > 256 {
		t.Fatalf("%d entries from 0, %d slots allocated", len(got), cap(r.items))
	}
	p := testPublisher(t, PublisherConfig{BufferSteps: 1 << 50})
	publishMarks(t, p, 0, 0, 3)
	if st := p.Stats(); st.Buffered != 3 {
		t.Fatalf("%+v", st)
	}
}
