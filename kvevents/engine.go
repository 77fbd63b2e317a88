package kvevents

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// engine runs one Endpoint: a SUB reader goroutine, a loop goroutine that owns the
// syncer and calls the handler, and at most one replay goroutine at a time (a
// fresh DEALER socket per replay, so a late reply to an abandoned replay can never
// be mistaken for a new one).
type engine struct {
	cfg SubscriberConfig
	ep  Endpoint
	log *log.Logger // zmq4's, for every socket

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when every goroutine of the engine has exited

	live    chan heldBatch
	replies chan replyMsg

	// Owned by the loop goroutine.
	q            syncer
	dec          Decoder
	batch        Batch
	replayCancel context.CancelFunc
	replayTimer  *time.Timer
	replayWG     sync.WaitGroup

	badFrames atomic.Uint64 // counted by the reader goroutine
	connFails atomic.Uint64 // failed Dials, counted by the reader goroutine

	mu   sync.Mutex
	snap EngineStatus
}

type replyMsg struct {
	id      uint64
	seq     uint64
	payload []byte
	end     bool
	err     error // with end: the replay failed
}

var errReplayTimeout = errors.New("no reply within ReplayTimeout")

func newEngine(parent context.Context, cfg SubscriberConfig, logger *log.Logger, ep Endpoint) *engine {
	ctx, cancel := context.WithCancel(parent)
	e := &engine{cfg: cfg, ep: ep, log: logger, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		live: make(chan heldBatch, cfg.QueueSize), replies: make(chan replyMsg, 64)}
	e.q = syncer{eff: e, hasReplay: ep.Replay != "", maxPending: cfg.MaxPending}
	e.snap.Engine = ep.Engine
	e.replayTimer = time.NewTimer(time.Hour)
	e.replayTimer.Stop()
	return e
}

func (e *engine) start() { go e.run() }

// stop cancels the engine and waits for its goroutines.
func (e *engine) stop() {
	e.cancel()
	<-e.done
}

func (e *engine) status() EngineStatus {
	e.mu.Lock()
	s := e.snap
	e.mu.Unlock()
	s.Stats.BadFrames = e.badFrames.Load()
	s.Stats.ConnectFailures = e.connFails.Load()
	return s
}

func (e *engine) run() {
	defer close(e.done)
	sub := zmq4.NewSub(e.ctx, zmq4.WithDialerRetry(e.cfg.DialRetry), zmq4.WithDialerMaxRetries(-1),
		zmq4.WithAutomaticReconnect(true), zmq4.WithLogger(e.log))
	var readers sync.WaitGroup
	if err := sub.SetOption(zmq4.OptionSubscribe, e.ep.Topic); err == nil {
		readers.Go(func() { e.readLive(sub) })
	}
	e.q.start(e.ep.NextSeq, !e.ep.NoCatchUp)
	e.publish()
	e.loop()
	// Shut down: stop the replay, close the socket, let the reader go, then drain
	// what zmq4's connection goroutines still hold so none stays blocked.
	e.stopReplay()
	e.cancel()
	_ = sub.Close()
	readers.Wait()
	drain(sub)
	e.replayWG.Wait()
}

func (e *engine) loop() {
	for {
		select {
		case <-e.ctx.Done():
			return
		case m := <-e.live:
			e.q.onLive(m.seq, m.payload)
		case r := <-e.replies:
			if r.id != e.q.replayID || !e.q.replaying {
				continue // a reply to a replay already ended or abandoned
			}
			e.replayTimer.Reset(e.cfg.ReplayTimeout)
			if r.end {
				e.q.onReplayEnd(r.id, r.err)
			} else {
				e.q.onReplay(r.id, r.seq, r.payload)
			}
		case <-e.replayTimer.C:
			e.q.onReplayEnd(e.q.replayID, errReplayTimeout)
		}
		e.publish()
	}
}

// publish copies the syncer's state into the status snapshot.
func (e *engine) publish() {
	e.mu.Lock()
	e.snap.Synced, e.snap.NextSeq, e.snap.Replaying, e.snap.Stats = e.q.synced, e.q.next, e.q.replaying, e.q.stats
	e.mu.Unlock()
}

// readLive connects the SUB socket and forwards well-formed messages to the loop.
func (e *engine) readLive(sub zmq4.Socket) {
	for {
		err := sub.Dial(e.ep.Pub) // retries connection refusals itself
		if err == nil {
			break
		}
		if e.ctx.Err() == nil {
			e.connFails.Add(1)
		}
		if !sleepCtx(e.ctx, e.cfg.DialRetry) { // e.g. a peer that is not ZeroMQ
			return
		}
	}
	for {
		msg, err := sub.Recv()
		if err != nil {
			if e.ctx.Err() != nil {
				return
			}
			continue // a dropped connection; zmq4 reconnects
		}
		seq, payload, err := parseLiveFrames(msg.Frames)
		if err != nil {
			e.badFrames.Add(1)
			continue
		}
		select {
		case e.live <- heldBatch{seq, payload}:
		case <-e.ctx.Done():
			return
		}
	}
}

// startReplay implements effects: a replay goroutine with its own DEALER socket.
func (e *engine) startReplay(id, from uint64) {
	e.stopReplay()
	ctx, cancel := context.WithCancel(e.ctx)
	e.replayCancel = cancel
	e.replayTimer.Reset(e.cfg.ReplayTimeout)
	e.replayWG.Go(func() { e.runReplay(ctx, id, from) })
}

// stopReplay implements effects: abandon the replay in flight, if any.
func (e *engine) stopReplay() {
	if e.replayCancel != nil {
		e.replayCancel()
		e.replayCancel = nil
	}
	e.replayTimer.Stop()
}

func (e *engine) runReplay(ctx context.Context, id, from uint64) {
	d := zmq4.NewDealer(ctx, zmq4.WithDialerRetry(e.cfg.DialRetry), zmq4.WithDialerMaxRetries(-1),
		zmq4.WithLogger(e.log))
	defer func() {
		_ = d.Close()
		drain(d)
	}()
	report := func(m replyMsg) bool {
		m.id = id
		select {
		case e.replies <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) { report(replyMsg{end: true, err: err}) }
	if err := d.Dial(e.ep.Replay); err != nil {
		fail(err)
		return
	}
	// A DEALER sends the empty delimiter a REQ socket would add.
	if err := d.Send(zmq4.NewMsgFrom(nil, AppendSeq(nil, from))); err != nil {
		fail(err)
		return
	}
	for {
		msg, err := d.Recv()
		if err != nil {
			if ctx.Err() == nil {
				fail(fmt.Errorf("replay connection: %w", err))
			}
			return
		}
		f, err := parseReplayFrames(msg.Frames)
		if err != nil {
			fail(err)
			return
		}
		if !report(replyMsg{seq: f.seq, payload: f.payload, end: f.end}) || f.end {
			return
		}
	}
}

// deliver implements effects: decode and hand the batch to the handler.
func (e *engine) deliver(seq uint64, payload []byte, replayed bool) error {
	if err := e.dec.Decode(payload, &e.batch); err != nil {
		return fmt.Errorf("batch %d: %w", seq, err)
	}
	e.cfg.Handler(Notification{Engine: e.ep.Engine, Kind: Applied, Seq: seq, Batch: &e.batch, Replayed: replayed})
	for i := range e.batch.Events {
		if e.batch.Events[i].Type == AllBlocksCleared {
			e.cfg.Handler(Notification{Engine: e.ep.Engine, Kind: Cleared, Seq: seq})
			break
		}
	}
	return nil
}

// notify implements effects.
func (e *engine) notify(n Notification) {
	n.Engine = e.ep.Engine
	e.cfg.Handler(n)
}

// drain receives from a closed socket until its queue is empty, so zmq4's
// per-connection reader goroutines, which push into an unbuffered-after-10 channel
// without watching for cancellation, are never left blocked (zmq4 v0.17.0). After
// Close, Recv picks at random between the cancelled context and a queued message;
// 64 misses in a row mean the queue is empty.
func drain(s zmq4.Socket) {
	for misses := 0; misses < 64; {
		if _, err := s.Recv(); err != nil {
			misses++
		} else {
			misses = 0
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
