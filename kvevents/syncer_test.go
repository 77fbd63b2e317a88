package kvevents

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// fakeEffects records what a syncer asks for. Payloads are "r<run>:<seq>"; "bad"
// fails to decode.
type fakeEffects struct {
	delivered []delivery
	notes     []Notification
	replays   []replayReq
	stops     int
}

type delivery struct {
	seq      uint64
	payload  string
	replayed bool
}

type replayReq struct{ id, from uint64 }

func (f *fakeEffects) deliver(seq uint64, payload []byte, replayed bool) error {
	if string(payload) == "bad" {
		return fmt.Errorf("batch %d: %w", seq, ErrMalformed)
	}
	f.delivered = append(f.delivered, delivery{seq, string(payload), replayed})
	return nil
}

func (f *fakeEffects) notify(n Notification) { f.notes = append(f.notes, n) }

func (f *fakeEffects) startReplay(id, from uint64) {
	f.replays = append(f.replays, replayReq{id, from})
}
func (f *fakeEffects) stopReplay() { f.stops++ }

func newTestSyncer(hasReplay bool, maxPending int) (*syncer, *fakeEffects) {
	f := &fakeEffects{}
	return &syncer{eff: f, hasReplay: hasReplay, maxPending: maxPending}, f
}

func pl(run int, seq uint64) []byte { return fmt.Appendf(nil, "r%d:%d", run, seq) }

func seqs(ds []delivery) []uint64 {
	out := make([]uint64, len(ds))
	for i, d := range ds {
		out[i] = d.seq
	}
	return out
}

func kinds(ns []Notification) []NoticeKind {
	out := make([]NoticeKind, len(ns))
	for i, n := range ns {
		out[i] = n.Kind
	}
	return out
}

func checkSyncer(t *testing.T, q *syncer) {
	t.Helper()
	if err := q.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestSyncerInOrder(t *testing.T) {
	q, f := newTestSyncer(true, 10)
	q.start(Opt[uint64]{}, false)
	for s := uint64(3); s < 8; s++ { // joined late, no catch-up: starts at 3
		q.onLive(s, pl(0, s))
		checkSyncer(t, q)
	}
	if got := seqs(f.delivered); !slices.Equal(got, []uint64{3, 4, 5, 6, 7}) || len(f.notes) != 0 || len(f.replays) != 0 {
		t.Fatalf("delivered %v notes %v replays %v", got, f.notes, f.replays)
	}
}

func TestSyncerGapRecovered(t *testing.T) {
	q, f := newTestSyncer(true, 10)
	q.start(Opt[uint64]{}, false)
	q.onLive(0, pl(0, 0))
	q.onLive(1, pl(0, 1))
	q.onLive(4, pl(0, 4)) // 2, 3 dropped
	if len(f.replays) != 1 || f.replays[0].from != 2 {
		t.Fatalf("replays %v", f.replays)
	}
	q.onLive(5, pl(0, 5)) // held
	checkSyncer(t, q)
	id := f.replays[0].id
	for s := uint64(2); s <= 5; s++ { // the buffer had up to 5
		q.onReplay(id, s, pl(0, s))
	}
	q.onReplayEnd(id, nil)
	checkSyncer(t, q)
	q.onLive(6, pl(0, 6))
	if got := seqs(f.delivered); !slices.Equal(got, []uint64{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("delivered %v", got)
	}
	if !slices.Equal(kinds(f.notes), []NoticeKind{GapRecovered}) || f.notes[0].From != 2 || f.notes[0].To != 6 {
		t.Fatalf("notes %v", f.notes)
	}
	if q.stats.Duplicates != 2 || q.stats.Gaps != 1 {
		t.Fatalf("stats %+v", q.stats)
	}
}

func TestSyncerGapWithoutReplay(t *testing.T) {
	q, f := newTestSyncer(false, 10)
	q.start(Opt[uint64]{}, true) // catch-up needs a replay socket: no-op
	q.onLive(0, pl(0, 0))
	q.onLive(3, pl(0, 3))
	if got := seqs(f.delivered); !slices.Equal(got, []uint64{0, 3}) {
		t.Fatalf("delivered %v", got)
	}
	if len(f.notes) != 1 || f.notes[0].Kind != GapLost || f.notes[0].From != 1 || f.notes[0].To != 3 || !errors.Is(f.notes[0].Err, ErrNoReplay) {
		t.Fatalf("notes %v", f.notes)
	}
}

func TestSyncerEvictedAndFailed(t *testing.T) {
	q, f := newTestSyncer(true, 10)
	q.start(Opt[uint64]{}, false)
	q.onLive(0, pl(0, 0))
	q.onLive(6, pl(0, 6))
	id := f.replays[0].id
	// The buffer starts at 4: 1..3 are gone.
	for s := uint64(4); s <= 6; s++ {
		q.onReplay(id, s, pl(0, s))
	}
	q.onReplayEnd(id, nil)
	if got := seqs(f.delivered); !slices.Equal(got, []uint64{0, 4, 5, 6}) {
		t.Fatalf("delivered %v", got)
	}
	if !slices.Equal(kinds(f.notes), []NoticeKind{GapLost, GapRecovered}) ||
		f.notes[0].From != 1 || f.notes[0].To != 4 || !errors.Is(f.notes[0].Err, ErrEvicted) ||
		f.notes[1].From != 4 || f.notes[1].To != 7 {
		t.Fatalf("notes %v", f.notes)
	}
	// A replay that fails without delivering anything loses the gap.
	q.onLive(9, pl(0, 9))
	id = f.replays[1].id
	q.onReplayEnd(id, errReplayTimeout)
	n := f.notes[len(f.notes)-1]
	if n.Kind != GapLost || n.From != 7 || n.To != 9 || !errors.Is(n.Err, ErrReplayFailed) {
		t.Fatalf("note %v", n)
	}
	if got := seqs(f.delivered); got[len(got)-1] != 9 || q.next != 10 {
		t.Fatalf("delivered %v next %d", got, q.next)
	}
	checkSyncer(t, q)
}

func TestSyncerRestart(t *testing.T) {
	q, f := newTestSyncer(true, 10)
	q.start(Opt[uint64]{}, false)
	for s := range uint64(5) {
		q.onLive(s, pl(0, s))
	}
	q.onLive(0, pl(1, 0)) // a new run
	q.onLive(1, pl(1, 1))
	if !slices.Equal(kinds(f.notes), []NoticeKind{Restarted}) || f.notes[0].Seq != 0 {
		t.Fatalf("notes %v", f.notes)
	}
	if got := f.delivered[len(f.delivered)-2:]; got[0].payload != "r1:0" || got[1].payload != "r1:1" {
		t.Fatalf("delivered %v", got)
	}
	for s := uint64(2); s < 6; s++ {
		q.onLive(s, pl(1, s))
	}
	// Joined the next run late (its 0..3 were lost on the wire): 4 ≤ 5 shows the
	// restart; the new run is replayed from 0.
	q.onLive(4, pl(2, 4))
	if n := f.notes[len(f.notes)-1]; n.Kind != Restarted || n.Seq != 4 {
		t.Fatalf("note %v", n)
	}
	r := f.replays[len(f.replays)-1]
	if r.from != 0 {
		t.Fatalf("replay from %d", r.from)
	}
	for s := range uint64(5) {
		q.onReplay(r.id, s, pl(2, s))
	}
	q.onReplayEnd(r.id, nil)
	got := f.delivered[len(f.delivered)-5:]
	for i, d := range got {
		if d.payload != string(pl(2, uint64(i))) {
			t.Fatalf("new run delivered %v", got)
		}
	}
	checkSyncer(t, q)
}

// A subscriber restarted with NextSeq catches up from there; live batches that the
// replay also delivered are recognised as duplicates by their bytes.
func TestSyncerResume(t *testing.T) {
	q, f := newTestSyncer(true, 10)
	q.start(Some[uint64](5), true)
	r := f.replays[0]
	if r.from != 5 {
		t.Fatalf("replay from %d", r.from)
	}
	for s := uint64(5); s <= 8; s++ {
		q.onReplay(r.id, s, pl(0, s))
	}
	q.onReplayEnd(r.id, nil)
	q.onLive(7, pl(0, 7)) // in flight during the replay
	q.onLive(8, pl(0, 8))
	q.onLive(9, pl(0, 9))
	if got := seqs(f.delivered); !slices.Equal(got, []uint64{5, 6, 7, 8, 9}) {
		t.Fatalf("delivered %v", got)
	}
	if q.stats.Duplicates != 2 || q.stats.Restarts != 0 {
		t.Fatalf("stats %+v", q.stats)
	}
}

// Resumed at 500 while the engine restarted meanwhile: the first live batch, below
// 500 and never replayed, starts a new run.
func TestSyncerResumeAfterEngineRestart(t *testing.T) {
	q, f := newTestSyncer(true, 10)
	q.start(Some[uint64](500), true)
	q.onReplayEnd(f.replays[0].id, nil) // nothing buffered from 500
	q.onLive(3, pl(1, 3))
	if !slices.Equal(kinds(f.notes), []NoticeKind{Restarted}) {
		t.Fatalf("notes %v", f.notes)
	}
	if r := f.replays[len(f.replays)-1]; r.from != 0 {
		t.Fatalf("replay from %d", r.from)
	}
	// Same, but the new run reached a number the old one had replayed: its bytes
	// differ, so it is not taken for a duplicate.
	q2, f2 := newTestSyncer(true, 10)
	q2.start(Opt[uint64]{}, true)
	for s := range uint64(4) {
		q2.onReplay(f2.replays[0].id, s, pl(0, s))
	}
	q2.onReplayEnd(f2.replays[0].id, nil)
	q2.onLive(2, pl(1, 2))
	if !slices.Equal(kinds(f2.notes), []NoticeKind{GapRecovered, Restarted}) {
		t.Fatalf("notes %v", f2.notes)
	}
}

func TestSyncerUndecodable(t *testing.T) {
	q, f := newTestSyncer(true, 10)
	q.start(Opt[uint64]{}, false)
	q.onLive(0, pl(0, 0))
	q.onLive(1, []byte("bad"))
	q.onLive(2, pl(0, 2))
	if got := seqs(f.delivered); !slices.Equal(got, []uint64{0, 2}) {
		t.Fatalf("delivered %v", got)
	}
	if len(f.notes) != 1 || f.notes[0].Kind != GapLost || f.notes[0].From != 1 || !errors.Is(f.notes[0].Err, ErrMalformed) {
		t.Fatalf("notes %v", f.notes)
	}
}

// Replies of an abandoned replay are ignored; held batches beyond MaxPending are
// dropped and recovered by the next replay.
func TestSyncerStaleRepliesAndOverflow(t *testing.T) {
	q, f := newTestSyncer(true, 2)
	q.start(Opt[uint64]{}, false)
	q.onLive(0, pl(0, 0))
	q.onLive(3, pl(0, 3)) // replay 1 from 1, holds 3
	q.onLive(4, pl(0, 4)) // holds 4: full
	q.onLive(5, pl(0, 5)) // dropped
	checkSyncer(t, q)
	if q.stats.DroppedPending != 1 {
		t.Fatalf("stats %+v", q.stats)
	}
	old := f.replays[0].id
	q.onReplay(old, 1, pl(0, 1))
	q.onReplay(old, 2, pl(0, 2))
	q.onReplayEnd(old, nil) // 3, 4 drained; 5 was dropped
	checkSyncer(t, q)
	q.onLive(6, pl(0, 6)) // shows the gap: replay 2 from 5
	if len(f.replays) != 2 || f.replays[1].from != 5 {
		t.Fatalf("replays %v", f.replays)
	}
	q.onReplay(old, 5, pl(0, 5)) // stale id: ignored
	if q.next != 5 {
		t.Fatalf("stale reply applied: next %d", q.next)
	}
	q.onReplay(f.replays[1].id, 5, pl(0, 5))
	q.onReplayEnd(f.replays[1].id, nil)
	if got := seqs(f.delivered); !slices.Equal(got, []uint64{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("delivered %v", got)
	}
}
