package kvevents

import "fmt"

// NoticeKind is what a Notification reports.
type NoticeKind uint8

const (
	// Applied: the next batch in sequence order, to apply now (Seq, Batch,
	// Replayed). Every batch is applied once, in order, or reported lost.
	Applied NoticeKind = iota + 1
	// Cleared: the batch just Applied (same Seq) holds an AllBlocksCleared. A
	// consumer that applies events in order has already dropped the engine's
	// entries at that event; this is for metrics and logs.
	Cleared
	// GapRecovered: batches [From, To) were missing from the live stream and were
	// applied from the replay socket (their Applied notices came first).
	GapRecovered
	// GapLost: batches [From, To) will never be applied (Err says why): the index
	// may hold entries those batches removed, so the consumer must drop every
	// entry of this engine now, then keep applying what follows (later Applied
	// batches are correct; blocks stored before and still cached are simply
	// unknown until stored again).
	GapLost
	// Restarted: the engine's sequence went back (Seq is the first number of the
	// new run): its cache was reset with it, so the consumer must drop every
	// entry of this engine. The new run's batches follow (replayed from 0 when
	// the subscriber joined it late).
	Restarted
)

// String names the kind.
func (k NoticeKind) String() string {
	switch k {
	case Applied:
		return "Applied"
	case Cleared:
		return "Cleared"
	case GapRecovered:
		return "GapRecovered"
	case GapLost:
		return "GapLost"
	case Restarted:
		return "Restarted"
	}
	return fmt.Sprintf("NoticeKind(%d)", k)
}

// Notification is what a Subscriber tells its handler about one engine.
type Notification struct {
	// Engine is the Endpoint.Engine the notice concerns.
	Engine string
	Kind   NoticeKind
	// Seq: Applied and Cleared: the batch's sequence number; Restarted: the first
	// sequence number seen from the new run.
	Seq uint64
	// From, To: GapRecovered and GapLost: the half-open range of sequence numbers.
	From, To uint64
	// Batch: Applied only. It is valid only during the handler call (the
	// subscriber reuses its memory): copy what you keep.
	Batch *Batch
	// Replayed: Applied only: the batch came from the replay socket.
	Replayed bool
	// Err: GapLost only: why — ErrNoReplay, ErrEvicted, ErrReplayFailed, or a
	// decode error (ErrMalformed, ErrSchema) for a batch that arrived unreadable.
	Err error
}

// String formats the notice for logs.
func (n Notification) String() string {
	switch n.Kind {
	case Applied:
		src := "live"
		if n.Replayed {
			src = "replay"
		}
		events := 0
		if n.Batch != nil {
			events = len(n.Batch.Events)
		}
		return fmt.Sprintf("%s: Applied seq %d (%d events, %s)", n.Engine, n.Seq, events, src)
	case Cleared, Restarted:
		return fmt.Sprintf("%s: %s seq %d", n.Engine, n.Kind, n.Seq)
	case GapLost:
		return fmt.Sprintf("%s: GapLost [%d, %d): %v", n.Engine, n.From, n.To, n.Err)
	}
	return fmt.Sprintf("%s: %s [%d, %d)", n.Engine, n.Kind, n.From, n.To)
}

// EngineStats counts what a subscriber saw from one engine.
type EngineStats struct {
	Live            uint64 // batches received on the PUB socket
	Applied         uint64 // batches delivered as Applied
	Duplicates      uint64 // batches received twice (live and replay) and delivered once
	Gaps            uint64 // gaps detected in the live stream
	Replays         uint64 // replay requests made
	ReplayedBatches uint64 // batches received from replays
	ReplayFailures  uint64 // replays that timed out or failed
	Lost            uint64 // sequence numbers reported in GapLost
	Undecodable     uint64 // batches that arrived but did not decode (counted in Lost)
	Restarts        uint64 // publisher restarts detected
	DroppedPending  uint64 // live batches dropped because MaxPending were held
	BadFrames       uint64 // live messages not shaped [topic, seq, payload]
	// ConnectFailures counts failed attempts to connect to the PUB endpoint
	// other than refused connections (which zmq4 retries unseen): a peer that
	// failed the ZMTP handshake (not ZeroMQ, or not a PUB socket) or an endpoint
	// zmq4 cannot dial. The subscriber retries after DialRetry.
	ConnectFailures uint64
}

// EngineStatus is a snapshot of one engine's subscription.
type EngineStatus struct {
	Engine string
	// Synced: NextSeq is known (the stream was joined).
	Synced bool
	// NextSeq is the next sequence number to apply: persist it and pass it as
	// Endpoint.NextSeq to resume after a subscriber restart.
	NextSeq uint64
	// Replaying: a replay is in flight.
	Replaying bool
	Stats     EngineStats
}
