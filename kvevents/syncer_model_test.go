package kvevents

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// A model publisher (runs, a bounded replay buffer, a lossy live stream, replays
// that may fail or stall) drives a syncer at random. Every delivery carries the
// current run's bytes for its number, and deliveries and GapLost ranges tile the
// sequence numbers of each run without gap or overlap from where it was joined;
// without faults nothing is lost.
func TestSyncerRandomized(t *testing.T) {
	for seed := range uint64(400) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runSyncerModel(t, seed, seed%3 == 0) })
	}
}

// tilingEffects checks the tiling as the syncer reports.
type tilingEffects struct {
	fakeEffects
	t      *testing.T
	run    *int
	cursor uint64
	joined bool
	lost   int
}

func runSyncerModel(t *testing.T, seed uint64, faultless bool) {
	rng := rand.New(rand.NewPCG(seed, 7))
	bufSize := 4 + rng.IntN(20)
	run := 0
	f := &tilingEffects{t: t, run: &run}
	q := &syncer{eff: f, hasReplay: true, maxPending: 1 + rng.IntN(8)}
	pubSeq := uint64(0)
	published := map[uint64][]byte{} // this run's payloads
	type inflight struct {
		id    uint64
		items []uint64
		fail  bool
	}
	var rp *inflight
	q.start(Opt[uint64]{}, rng.IntN(2) == 0)
	pickUp := func() { // a new replay request snapshots the buffer now
		if len(f.replays) == 0 || (rp != nil && f.replays[len(f.replays)-1].id == rp.id) || !q.replaying {
			return
		}
		r := f.replays[len(f.replays)-1]
		rp = &inflight{id: r.id, fail: !faultless && rng.IntN(8) == 0}
		lo := uint64(0)
		if pubSeq > uint64(bufSize) {
			lo = pubSeq - uint64(bufSize)
		}
		for s := max(lo, r.from); s < pubSeq; s++ {
			rp.items = append(rp.items, s)
		}
	}
	pickUp()
	for range 400 {
		switch op := rng.IntN(20); {
		case op < 12: // publish
			p := pl(run, pubSeq)
			published[pubSeq] = p
			if faultless || rng.IntN(5) != 0 {
				q.onLive(pubSeq, p)
			}
			pubSeq++
		case op < 19 && rp != nil: // replay progress
			if rp.fail && rng.IntN(2) == 0 {
				q.onReplayEnd(rp.id, errReplayTimeout)
				rp = nil
				break
			}
			if len(rp.items) == 0 {
				q.onReplayEnd(rp.id, nil)
				rp = nil
				break
			}
			s := rp.items[0]
			rp.items = rp.items[1:]
			q.onReplay(rp.id, s, published[s])
		case op == 19 && !faultless: // publisher restart: its seq 0 arrives live
			run++
			published = map[uint64][]byte{0: pl(run, 0)}
			pubSeq = 1
			rp = nil // the old replay socket is gone; the syncer abandons it on Restarted
			q.onLive(0, published[0])
		}
		checkSyncer(t, q)
		pickUp()
	}
	if faultless && f.lost > 0 && q.stats.DroppedPending == 0 {
		t.Fatalf("lost %d ranges without faults: %v", f.lost, f.notes)
	}
	if faultless && q.stats.Restarts != 0 {
		t.Fatalf("restart reported without one: %v", f.notes)
	}
}

func (f *tilingEffects) deliver(seq uint64, payload []byte, replayed bool) error {
	var r int
	var s uint64
	if _, err := fmt.Sscanf(string(payload), "r%d:%d", &r, &s); err != nil || s != seq || r != *f.run {
		f.t.Fatalf("delivered %q as seq %d in run %d", payload, seq, *f.run)
	}
	if f.joined && seq != f.cursor {
		f.t.Fatalf("delivered %d, expected %d", seq, f.cursor)
	}
	f.cursor, f.joined = seq+1, true
	return f.fakeEffects.deliver(seq, payload, replayed)
}

func (f *tilingEffects) notify(n Notification) {
	switch n.Kind {
	case GapLost:
		if (f.joined && n.From != f.cursor) || n.To <= n.From {
			f.t.Fatalf("lost [%d, %d), expected from %d", n.From, n.To, f.cursor)
		}
		f.cursor, f.joined = n.To, true
		f.lost++
	case Restarted:
		f.cursor, f.joined = 0, true
	}
	f.fakeEffects.notify(n)
}
