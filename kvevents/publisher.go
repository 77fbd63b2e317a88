package kvevents

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
)

// BindMode says whether the publisher's PUB socket binds or connects.
type BindMode uint8

const (
	// BindAuto follows vLLM: bind when the endpoint contains "*" or "::" or is
	// ipc:// or inproc:// (BindsEndpoint), otherwise connect to a subscriber
	// that binds.
	BindAuto BindMode = iota
	// Bind always binds (e.g. tcp://127.0.0.1:0 in tests).
	Bind
	// Connect always connects.
	Connect
)

// PublisherConfig configures a Publisher. The zero value of every field but
// Endpoint means the documented default, which is vLLM's (vllm/config/kv_events.py
// and ZmqEventPublisher).
type PublisherConfig struct {
	// Endpoint of the PUB socket (default "tcp://*:5557"), before the
	// data-parallel offset.
	Endpoint string
	// Mode: bind or connect the PUB socket (default BindAuto, vLLM's rule).
	Mode BindMode
	// ReplayEndpoint of the ROUTER replay socket, always bound, before the
	// data-parallel offset; "" (the default) disables replay.
	ReplayEndpoint string
	// Topic is the first frame of every message (default "", vLLM's default).
	Topic string
	// DataParallelRank offsets both endpoints' ports (OffsetEndpoint) and is
	// stamped into batches whose DataParallelRank is None.
	DataParallelRank int
	// BufferSteps is how many published batches the replay buffer keeps
	// (default 10,000). Its memory grows with the batches published, up to
	// that many.
	BufferSteps int
	// HWM is the PUB socket's high-water mark in messages (default 100,000):
	// beyond it the socket drops messages for every subscriber (subscribers see
	// the gap and replay).
	HWM int
	// Linger is how long Close keeps the sockets open after the last Publish, so
	// the PUB socket can write out what it queued and late replay requests are
	// served (default 100 ms; negative: close at once). zmq4 offers no flush, so
	// this is a time, not a condition.
	Linger time.Duration
	// SkipSend, when set, is asked about every sequence number; true means the
	// batch is buffered for replay but not sent on the PUB socket. It injects
	// lost messages in tests of subscribers (ours or others'). It is called with
	// the publisher's lock held and must not call the publisher.
	SkipSend func(seq uint64) bool
	// Logger receives what zmq4 logs for the publisher's sockets: a connection
	// to the PUB or replay socket that failed the ZMTP handshake (a peer that is
	// not ZeroMQ, a port scanner, a health check), one line each, counted in
	// PublisherStats.HandshakeFailures either way. Default (nil): zmq4's own
	// default, os.Stderr with the prefix "zmq4: "; log.New(io.Discard, "", 0)
	// silences it.
	Logger *log.Logger
}

// Defaults of PublisherConfig.
const (
	DefaultEndpoint    = "tcp://*:5557"
	DefaultBufferSteps = 10_000
	DefaultHWM         = 100_000
	DefaultLinger      = 100 * time.Millisecond
)

// DefaultPublisherConfig returns the configuration with every default filled in.
func DefaultPublisherConfig() PublisherConfig {
	return PublisherConfig{Endpoint: DefaultEndpoint, BufferSteps: DefaultBufferSteps,
		HWM: DefaultHWM, Linger: DefaultLinger}
}

func (c PublisherConfig) withDefaults() (PublisherConfig, error) {
	d := DefaultPublisherConfig()
	if c.Endpoint == "" {
		c.Endpoint = d.Endpoint
	}
	if c.BufferSteps == 0 {
		c.BufferSteps = d.BufferSteps
	}
	if c.HWM == 0 {
		c.HWM = d.HWM
	}
	if c.Linger == 0 {
		c.Linger = d.Linger
	}
	switch {
	case c.BufferSteps < 0:
		return c, fmt.Errorf("%w: BufferSteps %d < 0", ErrConfig, c.BufferSteps)
	case c.HWM < 0:
		return c, fmt.Errorf("%w: HWM %d < 0", ErrConfig, c.HWM)
	case c.DataParallelRank < 0:
		return c, fmt.Errorf("%w: DataParallelRank %d < 0", ErrConfig, c.DataParallelRank)
	case c.Mode > Connect:
		return c, fmt.Errorf("%w: Mode %d", ErrConfig, c.Mode)
	}
	var err error
	if c.Endpoint, err = OffsetEndpoint(c.Endpoint, c.DataParallelRank); err != nil {
		return c, err
	}
	if c.ReplayEndpoint, err = OffsetEndpoint(c.ReplayEndpoint, c.DataParallelRank); err != nil {
		return c, err
	}
	return c, nil
}

// PublisherStats counts what a Publisher did.
type PublisherStats struct {
	Published       uint64 // batches given a sequence number
	Skipped         uint64 // batches SkipSend kept off the PUB socket
	Buffered        int    // batches in the replay buffer now
	ReplayRequests  uint64 // well-formed replay requests served
	ReplayedBatches uint64 // batches sent in replies
	BadRequests     uint64 // replay requests that were not [identity, "", seq]
	// HandshakeFailures counts connections to the PUB or replay socket that
	// failed the ZMTP handshake (the lines zmq4 logged to Config.Logger).
	HandshakeFailures uint64
}

// Publisher publishes KV event batches exactly as vLLM's ZmqEventPublisher does:
// each batch gets the next sequence number (from 0, per publisher) and goes out on
// the PUB socket as [topic, 8-byte big-endian seq, msgpack payload]; the last
// BufferSteps payloads are kept, and a ROUTER socket answers a replay request
// (start seq) with every buffered batch from there and an end marker. It is safe
// for concurrent use.
//
// Unlike vLLM, Publish never blocks: it encodes in the caller's goroutine and
// queues on the socket, whose HWM bounds the queue.
type Publisher struct {
	cfg    PublisherConfig
	topic  []byte
	ctx    context.Context
	cancel context.CancelFunc
	pub    zmq4.Socket
	router zmq4.Socket // nil without replay
	addr   string      // resolved PUB endpoint
	raddr  string      // resolved replay endpoint
	zlog   *zmqLog     // zmq4's logger for both sockets
	wg     sync.WaitGroup

	mu      sync.Mutex
	enc     Encoder
	seq     uint64 // next sequence number
	ring    *ring
	stats   PublisherStats
	closed  bool
	scratch []byte // encoding buffer, reused
	slab    []byte // payloads are carved from it (len = bytes used)
}

// slabSize is the size of the blocks payloads are carved from: one allocation
// serves many batches, and a block is freed once the replay buffer and the socket
// have let go of every payload in it. Larger payloads get their own allocation.
const slabSize = 64 << 10

// keep copies an encoded payload into the slab; the copy is never modified again.
func (p *Publisher) keep(b []byte) []byte {
	if len(b) > slabSize/8 {
		return append([]byte(nil), b...)
	}
	if len(p.slab)+len(b) > cap(p.slab) {
		p.slab = make([]byte, 0, slabSize)
	}
	s := len(p.slab)
	p.slab = append(p.slab, b...)
	return p.slab[s:len(p.slab):len(p.slab)]
}

// NewPublisher opens the sockets. A bound endpoint with port 0 gets a free port
// (see Endpoint); a connecting PUB socket dials in the background.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{cfg: cfg, topic: []byte(cfg.Topic), ctx: ctx, cancel: cancel,
		ring: newRing(cfg.BufferSteps), addr: cfg.Endpoint, raddr: cfg.ReplayEndpoint, zlog: newZMQLog(cfg.Logger)}
	bind := cfg.Mode == Bind || (cfg.Mode == BindAuto && BindsEndpoint(cfg.Endpoint))
	// Reconnection only for a connecting socket: zmq4 would make a listening one
	// dial its own endpoint when a subscriber leaves.
	p.pub = zmq4.NewPub(ctx, zmq4.WithDialerMaxRetries(-1), zmq4.WithAutomaticReconnect(!bind),
		zmq4.WithLogger(p.zlog.logger()))
	if err := p.pub.SetOption(zmq4.OptionHWM, cfg.HWM); err != nil {
		p.closeSockets()
		return nil, fmt.Errorf("kvevents: PUB high-water mark: %w", err)
	}
	if bind {
		if err := p.pub.Listen(cfg.Endpoint); err != nil {
			p.closeSockets()
			return nil, fmt.Errorf("%w: PUB: %w", ErrConfig, err)
		}
		p.addr = resolved(cfg.Endpoint, p.pub)
	} else {
		p.wg.Go(p.connect)
	}
	if cfg.ReplayEndpoint != "" {
		p.router = zmq4.NewRouter(ctx, zmq4.WithLogger(p.zlog.logger()))
		if err := p.router.Listen(cfg.ReplayEndpoint); err != nil {
			p.closeSockets()
			return nil, fmt.Errorf("%w: replay ROUTER: %w", ErrConfig, err)
		}
		p.raddr = resolved(cfg.ReplayEndpoint, p.router)
		p.wg.Go(p.serveReplay)
	}
	return p, nil
}

// connect dials the subscriber that binds, until it answers or Close; zmq4 then
// reconnects by itself when the connection drops.
func (p *Publisher) connect() {
	for {
		err := p.pub.Dial(p.cfg.Endpoint) // retries refused connections itself
		if err == nil || !sleepCtx(p.ctx, DefaultDialRetry) {
			return
		}
	}
}

// resolved returns a dialable endpoint for a listening tcp socket (the port it
// got for port 0), else ep.
func resolved(ep string, s zmq4.Socket) string {
	if a := s.Addr(); a != nil && strings.HasPrefix(ep, "tcp://") {
		return "tcp://" + a.String()
	}
	return ep
}

// Endpoint returns the PUB endpoint after the rank offset, with the actual port of
// a bound tcp socket.
func (p *Publisher) Endpoint() string { return p.addr }

// ReplayEndpoint returns the replay endpoint like Endpoint ("" without replay).
func (p *Publisher) ReplayEndpoint() string { return p.raddr }

// Publish encodes b, gives it the next sequence number, buffers it for replay and
// queues it on the PUB socket. A batch whose DataParallelRank is None is published
// with the configured rank (b itself is not modified). It returns the sequence
// number; errors wrap ErrInvalidEvent (nothing published) or ErrClosed.
func (p *Publisher) Publish(b *Batch) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, ErrClosed
	}
	stamped := *b
	if !stamped.DataParallelRank.Valid {
		stamped.DataParallelRank = Some(int64(p.cfg.DataParallelRank))
	}
	enc, err := p.enc.Append(p.scratch[:0], &stamped)
	if err != nil {
		return 0, err
	}
	p.scratch = enc
	// The PUB queue and the replay buffer share the payload: it must stay as is.
	payload := p.keep(enc)
	seq := p.seq
	p.seq++
	p.ring.push(seq, payload)
	p.stats.Published++
	if p.cfg.SkipSend != nil && p.cfg.SkipSend(seq) {
		p.stats.Skipped++
		return seq, nil
	}
	// zmq4 queues the message and drops it beyond the HWM; the error is only
	// ever a cancelled socket.
	if err := p.pub.SendMulti(zmq4.NewMsgFrom(p.topic, AppendSeq(nil, seq), payload)); err != nil {
		return seq, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return seq, nil
}

// Stats returns the publisher's counters.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Buffered = p.ring.n
	s.HandshakeFailures = p.zlog.lines.Load()
	return s
}

// serveReplay answers replay requests until the ROUTER socket closes.
func (p *Publisher) serveReplay() {
	var items []ringItem
	for {
		msg, err := p.router.Recv()
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			continue // a peer's connection error; the socket goes on
		}
		// [identity, empty delimiter, start seq] — vLLM ignores anything else.
		if len(msg.Frames) != 3 || len(msg.Frames[1]) != 0 {
			p.mu.Lock()
			p.stats.BadRequests++
			p.mu.Unlock()
			continue
		}
		id, start := msg.Frames[0], parseStartSeq(msg.Frames[2])
		p.mu.Lock()
		items = p.ring.from(start, items[:0])
		p.stats.ReplayRequests++
		p.stats.ReplayedBatches += uint64(len(items))
		p.mu.Unlock()
		for _, it := range items {
			if p.router.Send(zmq4.NewMsgFrom(id, nil, p.topic, AppendSeq(nil, it.seq), it.payload)) != nil {
				break
			}
		}
		_ = p.router.Send(zmq4.NewMsgFrom(id, nil, nil, AppendSeq(nil, EndSeq), nil))
		clear(items) // drop payload references until the next request
	}
}

// Close stops publishing (Publish then fails with ErrClosed), keeps the sockets
// open for Linger, closes them and waits for the publisher's goroutines. It is
// idempotent.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	if p.cfg.Linger > 0 {
		time.Sleep(p.cfg.Linger)
	}
	err := p.closeSockets()
	p.wg.Wait()
	if p.router != nil {
		drain(p.router) // unblock zmq4's connection readers (see drain)
	}
	return err
}

func (p *Publisher) closeSockets() error {
	p.cancel()
	err := p.pub.Close()
	if p.router != nil {
		if e := p.router.Close(); err == nil {
			err = e
		}
	}
	return err
}
