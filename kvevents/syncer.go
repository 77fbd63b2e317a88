package kvevents

import (
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// Causes carried by GapLost notifications (Notification.Err wraps one of them, or a
// decode error wrapping ErrMalformed/ErrSchema for a batch that arrived but could
// not be decoded).
var (
	// ErrNoReplay: the endpoint has no replay socket, so a gap cannot be filled.
	ErrNoReplay = errors.New("kvevents: no replay endpoint")
	// ErrEvicted: the publisher's replay buffer no longer holds the batches.
	ErrEvicted = errors.New("kvevents: batches no longer buffered by the publisher")
	// ErrReplayFailed: the replay did not complete (timeout, connection lost, bad
	// reply).
	ErrReplayFailed = errors.New("kvevents: replay failed")
)

// effects is what the syncer asks of its engine: deliver a batch to the handler
// (decoding it), notify, and run or stop a replay.
type effects interface {
	deliver(seq uint64, payload []byte, replayed bool) error
	notify(Notification)
	startReplay(id, from uint64)
	stopReplay()
}

type heldBatch struct {
	seq     uint64
	payload []byte
}

type seqDigest struct {
	seq, digest uint64
	valid       bool
}

// dupWindow is how many replayed batches the syncer remembers to recognise their
// live duplicates (which can only be batches in flight during a replay). A
// duplicate it has forgotten is taken for a restart: the safe mistake (the
// consumer drops entries it could have kept, never keeps stale ones).
const dupWindow = 4096

// syncer is one engine's ordering state machine, free of sockets and time so it can
// be tested exhaustively: it applies batches strictly in sequence order exactly
// once, holds live batches while a replay fills a gap, and reports every range it
// could not recover and every restart of the publisher.
//
// Invariants (checkInvariants):
//   - replaying ⇔ a replay with id replayID is in flight; pending is empty when
//     not replaying;
//   - len(pending) ≤ maxPending;
//   - pending holds live batches in arrival order, each above lastLive's value
//     when it arrived (the live stream only goes forward between restarts);
//   - every sequence number below next (since the last restart, from where the
//     stream was joined) was delivered once or reported in a GapLost.
type syncer struct {
	eff        effects
	hasReplay  bool
	maxPending int

	synced bool   // next is known
	next   uint64 // the next sequence number to apply

	hasLive  bool   // a live batch arrived since the last (re)start
	lastLive uint64 // the highest live sequence number: a live one at or below it is a restart

	// replayed remembers the digests of the last batches applied from replay,
	// slot seq % len: a live batch below next is a duplicate only if its bytes
	// are those of the batch replayed under its number (the publisher replays the
	// exact bytes it sent); otherwise it comes from a new run.
	replayed []seqDigest

	replaying     bool
	replayID      uint64
	progress      bool   // the replay in flight applied a batch
	recoveredFrom uint64 // the first batch it applied
	pending       []heldBatch

	stats EngineStats
}

// start joins the stream: at resume when given, and (catchUp, with a replay
// socket) by replaying from there, or from 0 for a fresh subscriber.
func (q *syncer) start(resume Opt[uint64], catchUp bool) {
	if resume.Valid {
		q.synced, q.next = true, resume.Val
	}
	if catchUp && q.hasReplay {
		if !q.synced {
			q.synced, q.next = true, 0
		}
		q.requestReplay()
	}
}

func (q *syncer) requestReplay() {
	q.replayID++
	q.replaying, q.progress = true, false
	q.stats.Replays++
	q.eff.startReplay(q.replayID, q.next)
}

// onLive handles a batch from the PUB socket. The live stream of one publisher
// only goes forward, so a number at or below the last live one starts a new run.
func (q *syncer) onLive(s uint64, payload []byte) {
	q.stats.Live++
	if q.hasLive && s <= q.lastLive {
		q.restart(s, payload, true)
		return
	}
	q.hasLive, q.lastLive = true, s
	if q.replaying {
		if len(q.pending) < q.maxPending {
			q.pending = append(q.pending, heldBatch{s, payload})
		} else {
			q.stats.DroppedPending++ // a later gap check replays it
		}
		return
	}
	q.inOrder(s, payload)
}

// inOrder handles live batch s when no replay is in flight.
func (q *syncer) inOrder(s uint64, payload []byte) {
	if !q.synced {
		q.synced, q.next = true, s
	}
	switch {
	case s < q.next:
		if !q.isDuplicate(s, payload) {
			q.restart(s, payload, false)
			return
		}
		q.stats.Duplicates++ // already delivered by a replay
	case s == q.next:
		q.apply(s, payload, false)
	case q.hasReplay:
		q.stats.Gaps++
		q.pending = append(q.pending, heldBatch{s, payload})
		q.requestReplay()
	default:
		q.stats.Gaps++
		q.lost(q.next, s, ErrNoReplay)
		q.apply(s, payload, false)
	}
}

func (q *syncer) isDuplicate(s uint64, payload []byte) bool {
	if len(q.replayed) == 0 {
		return false
	}
	d := q.replayed[s%uint64(len(q.replayed))]
	return d.valid && d.seq == s && d.digest == xxhash.Sum64(payload)
}

// restart starts a new run at live batch s; live says s just arrived (it is then
// the last live number) rather than being a held batch.
func (q *syncer) restart(s uint64, payload []byte, live bool) {
	q.stats.Restarts++
	if q.replaying {
		q.replaying = false
		q.eff.stopReplay()
	}
	q.pending = q.pending[:0]
	q.synced, q.next = true, 0
	clear(q.replayed)
	if live {
		q.hasLive, q.lastLive = true, s
	}
	q.eff.notify(Notification{Kind: Restarted, Seq: s})
	q.inOrder(s, payload)
}

// onReplay handles a batch of replay id.
func (q *syncer) onReplay(id, s uint64, payload []byte) {
	if !q.replaying || id != q.replayID {
		return // a cancelled replay's late reply
	}
	q.stats.ReplayedBatches++
	if s < q.next {
		q.stats.Duplicates++
		return
	}
	if s > q.next { // the publisher's buffer starts after next
		q.lost(q.next, s, ErrEvicted)
	}
	if !q.progress {
		q.progress, q.recoveredFrom = true, s
	}
	if q.replayed == nil {
		q.replayed = make([]seqDigest, dupWindow)
	}
	q.replayed[s%dupWindow] = seqDigest{seq: s, digest: xxhash.Sum64(payload), valid: true}
	q.apply(s, payload, true)
}

// onReplayEnd handles the end of replay id: its end marker (err nil) or its
// failure. Held live batches are then handled in order; a gap before the first of
// them that the replay did not reduce at all is lost.
func (q *syncer) onReplayEnd(id uint64, err error) {
	if !q.replaying || id != q.replayID {
		return
	}
	q.replaying = false
	q.eff.stopReplay()
	if err != nil {
		q.stats.ReplayFailures++
	}
	if q.progress {
		q.eff.notify(Notification{Kind: GapRecovered, From: q.recoveredFrom, To: q.next})
	}
	held := q.pending
	q.pending = nil
	if len(held) > 0 && held[0].seq > q.next && !q.progress {
		cause := ErrEvicted
		if err != nil {
			cause = fmt.Errorf("%w: %w", ErrReplayFailed, err)
		}
		q.lost(q.next, held[0].seq, cause)
	}
	for i, h := range held {
		if q.replaying { // a gap or a restart started a replay: hold the rest again
			q.pending = append(q.pending, held[i:]...)
			break
		}
		q.inOrder(h.seq, h.payload)
	}
	if !q.replaying {
		q.pending = held[:0] // reuse the memory
		clear(held)
	}
}

func (q *syncer) apply(s uint64, payload []byte, replayed bool) {
	q.next = s + 1
	if err := q.eff.deliver(s, payload, replayed); err != nil {
		q.stats.Undecodable++
		q.stats.Lost++
		q.eff.notify(Notification{Kind: GapLost, From: s, To: s + 1, Err: err})
		return
	}
	q.stats.Applied++
}

func (q *syncer) lost(from, to uint64, cause error) {
	q.stats.Lost += to - from
	q.next = to
	q.eff.notify(Notification{Kind: GapLost, From: from, To: to, Err: cause})
}

// checkInvariants reports the first broken invariant (tests, fuzzing).
func (q *syncer) checkInvariants() error {
	if !q.replaying && len(q.pending) > 0 {
		return fmt.Errorf("%d batches held without a replay", len(q.pending))
	}
	if len(q.pending) > q.maxPending {
		return fmt.Errorf("%d batches held, bound %d", len(q.pending), q.maxPending)
	}
	for i := 1; i < len(q.pending); i++ {
		if q.pending[i].seq <= q.pending[i-1].seq {
			return fmt.Errorf("held batches out of order: %d after %d", q.pending[i].seq, q.pending[i-1].seq)
		}
	}
	if q.replaying && !q.synced {
		return errors.New("replaying before the stream is joined")
	}
	return nil
}
