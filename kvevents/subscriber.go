package kvevents

import (
	"context"
	"fmt"
	"log"
	"sort"
	"strconv"
	"sync"
	"time"
)

// SubscriberConfig configures a Subscriber; a zero field means its default.
type SubscriberConfig struct {
	// Handler receives every notification (required). It is called from one
	// goroutine per engine: calls for one engine are sequential and in order,
	// calls for different engines may run concurrently. A slow handler slows
	// that engine's intake (bounded queues), which ZeroMQ turns into dropped
	// messages at the publisher's HWM, recovered by replay. Remove and Close wait
	// for a call in progress, so the handler must not call them itself.
	Handler func(Notification)
	// ReplayTimeout: a replay that sends nothing for this long is abandoned and
	// what it did not deliver is reported lost (default 3 s).
	ReplayTimeout time.Duration
	// MaxPending bounds the live batches held per engine while a replay runs
	// (default 10,000, vLLM's replay buffer size); beyond it live batches are
	// dropped and replayed later.
	MaxPending int
	// QueueSize bounds the live messages queued per engine between the socket
	// and the handler (default 1,024; at most 1,048,576: the queue is allocated
	// when an engine is added).
	QueueSize int
	// DialRetry is the pause between connection attempts (default 250 ms).
	DialRetry time.Duration
	// Logger is given to every socket the subscriber creates (zmq4.WithLogger).
	// zmq4 v0.17.0 logs only from listening sockets, and the subscriber's only
	// dial, so nothing reaches it today: a connection that fails the ZMTP
	// handshake is retried and counted in EngineStats.ConnectFailures instead.
	// Default (nil): zmq4's own default, os.Stderr with the prefix "zmq4: ";
	// log.New(io.Discard, "", 0) silences it.
	Logger *log.Logger
}

// Defaults of SubscriberConfig.
const (
	DefaultReplayTimeout = 3 * time.Second
	DefaultMaxPending    = 10_000
	DefaultQueueSize     = 1_024
	DefaultDialRetry     = 250 * time.Millisecond

	maxQueueSize = 1 << 20
)

// DefaultSubscriberConfig returns the configuration with every default filled in;
// the Handler is still to be set.
func DefaultSubscriberConfig() SubscriberConfig {
	return SubscriberConfig{ReplayTimeout: DefaultReplayTimeout, MaxPending: DefaultMaxPending,
		QueueSize: DefaultQueueSize, DialRetry: DefaultDialRetry}
}

func (c SubscriberConfig) withDefaults() (SubscriberConfig, error) {
	if c.Handler == nil {
		return c, fmt.Errorf("%w: Handler is required", ErrConfig)
	}
	d := DefaultSubscriberConfig()
	if c.ReplayTimeout == 0 {
		c.ReplayTimeout = d.ReplayTimeout
	}
	if c.MaxPending == 0 {
		c.MaxPending = d.MaxPending
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}
	if c.DialRetry == 0 {
		c.DialRetry = d.DialRetry
	}
	if c.ReplayTimeout < 0 || c.MaxPending < 0 || c.QueueSize < 0 || c.DialRetry < 0 {
		return c, fmt.Errorf("%w: negative ReplayTimeout, MaxPending, QueueSize or DialRetry", ErrConfig)
	}
	if c.QueueSize > maxQueueSize {
		return c, fmt.Errorf("%w: QueueSize %d > %d", ErrConfig, c.QueueSize, maxQueueSize)
	}
	return c, nil
}

// Endpoint is one engine (one publisher: a vLLM pod, or one data-parallel rank of
// it) to subscribe to.
type Endpoint struct {
	// Engine names the engine in notifications; unique within a Subscriber
	// (required).
	Engine string
	// Pub is the publisher's PUB endpoint to connect to, e.g.
	// "tcp://10.0.0.7:5557" (required).
	Pub string
	// Replay is its replay (ROUTER) endpoint; "" means gaps cannot be filled and
	// are reported lost.
	Replay string
	// Topic is the subscription prefix (default "": every message).
	Topic string
	// NextSeq resumes a subscriber that was restarted: the sequence number after
	// the last batch it applied (EngineStatus.NextSeq). None for a fresh start.
	NextSeq Opt[uint64]
	// NoCatchUp skips the replay made when joining (from NextSeq, or from 0 for
	// a fresh start, so an index is rebuilt from the publisher's buffer): the
	// stream is then joined at the first live batch.
	NoCatchUp bool
}

// ForRank returns the endpoint of data-parallel rank r of the engine ep names:
// both ports offset as vLLM's publisher offsets them, and "/dp<r>" appended to
// Engine (rank 0 is ep unchanged).
func (ep Endpoint) ForRank(r int) (Endpoint, error) {
	if r == 0 {
		return ep, nil
	}
	var err error
	if ep.Pub, err = OffsetEndpoint(ep.Pub, r); err != nil {
		return ep, err
	}
	if ep.Replay, err = OffsetEndpoint(ep.Replay, r); err != nil {
		return ep, err
	}
	ep.Engine += "/dp" + strconv.Itoa(r)
	return ep, nil
}

// Subscriber follows many engines' KV event streams, one connection (and one
// replay client when needed) per engine, and delivers each engine's batches to the
// handler in sequence order exactly once — filling gaps from the replay socket and
// reporting restarts and unrecoverable gaps, so a consumer can drop an engine's
// entries instead of routing on stale ones. It is safe for concurrent use.
type Subscriber struct {
	cfg    SubscriberConfig
	zlog   *zmqLog // zmq4's logger for every socket
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	engines map[string]*engine
	closed  bool
}

// NewSubscriber returns a subscriber with no engines. Cancelling ctx stops every
// engine, like Close.
func NewSubscriber(ctx context.Context, cfg SubscriberConfig) (*Subscriber, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	return &Subscriber{cfg: cfg, zlog: newZMQLog(cfg.Logger), ctx: ctx, cancel: cancel,
		engines: make(map[string]*engine)}, nil
}

// Add starts following ep. It returns at once: connecting and catching up happen
// in the background. Errors wrap ErrConfig (missing field, engine already
// present) or ErrClosed.
func (s *Subscriber) Add(ep Endpoint) error {
	if ep.Engine == "" || ep.Pub == "" {
		return fmt.Errorf("%w: Endpoint needs Engine and Pub", ErrConfig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ctx.Err() != nil {
		return ErrClosed
	}
	if _, dup := s.engines[ep.Engine]; dup {
		return fmt.Errorf("%w: engine %q already added", ErrConfig, ep.Engine)
	}
	e := newEngine(s.ctx, s.cfg, s.zlog.logger(), ep)
	s.engines[ep.Engine] = e
	e.start()
	return nil
}

// Remove stops following an engine and waits until its goroutines have exited, so
// the handler is not called for it after Remove returns. It returns the engine's
// last status and whether it was present.
func (s *Subscriber) Remove(engine string) (EngineStatus, bool) {
	s.mu.Lock()
	e, ok := s.engines[engine]
	delete(s.engines, engine)
	s.mu.Unlock()
	if !ok {
		return EngineStatus{}, false
	}
	e.stop()
	return e.status(), true
}

// Status returns a snapshot of one engine's subscription; it catches up with the
// handler a moment after each call returns.
func (s *Subscriber) Status(engine string) (EngineStatus, bool) {
	s.mu.Lock()
	e, ok := s.engines[engine]
	s.mu.Unlock()
	if !ok {
		return EngineStatus{}, false
	}
	return e.status(), true
}

// Statuses returns every engine's status, sorted by name.
func (s *Subscriber) Statuses() []EngineStatus {
	s.mu.Lock()
	out := make([]EngineStatus, 0, len(s.engines))
	for _, e := range s.engines {
		out = append(out, e.status())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Engine < out[j].Engine })
	return out
}

// Close stops every engine and waits for all goroutines to exit. It is idempotent.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	engines := s.engines
	s.engines = make(map[string]*engine)
	s.mu.Unlock()
	s.cancel()
	for _, e := range engines {
		e.stop()
	}
	return nil
}
