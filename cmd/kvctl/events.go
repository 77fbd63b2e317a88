package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"

	"github.com/pagedkv/pagedkv/kvevents"
)

func init() {
	register(command{
		name:    "events",
		summary: "subscribe to an engine's KV events (vLLM's or kvctl engine's) and print them as JSON lines",
		run:     runEvents,
	})
}

const eventsDescription = `
Subscribes to one engine's KV-event stream (vLLM's ZmqEventPublisher, kvctl engine,
or any publisher of vLLM's protocol) and prints every decoded event as one JSON line
on standard output, in order, exactly once:

  {"kind":"event","engine":"E","seq":N,"ts":T,"data_parallel_rank":R,"replayed":false,
   "type":"BlockStored","block_hashes":[...],"parent_block_hash":null,"token_ids":[...],
   "block_size":16,"lora_id":null,"medium":"GPU","lora_name":null,"extra_keys":[null],...}

Field names are vLLM's; fields vLLM omits when None are omitted, the others are
null when None. Block hashes are JSON integers (the 64-bit form) or {"bytes_hex":
"..."} (raw digests); bytes inside extra keys are {"bytes_hex": "..."} too. An event
type this tool does not know is printed with "raw_hex". What the subscriber notices
is printed as its own line with a distinct kind: "gap_recovered" and "gap_lost"
({"from","to"}: batches [from, to) replayed or never to be applied; an index must
then drop the engine's entries), "restarted" (the publisher's sequence went back:
its cache is gone), "cleared" (the batch just printed held AllBlocksCleared).

With -replay the subscriber first replays what the publisher still buffers (from
sequence 0, or from -from) and fills gaps from it; without, it joins at the first
live batch and reports gaps as lost. It runs until -n events were printed, -timeout
passed, or it is interrupted. Errors, and with -v what ZeroMQ logs, are one line
each on standard error.`

// Limits of kvctl events' flags.
const maxEventsN = 1 << 40

func runEvents(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("events", "events -sub tcp://HOST:PORT [-replay tcp://HOST:PORT] [-n N] [-topic T] [-timeout D] [-v]", eventsDescription)
	sub := fs.String("sub", "", "the publisher's PUB `endpoint` to connect to (required), e.g. tcp://10.0.0.7:5557")
	replay := fs.String("replay", "", "the publisher's replay (ROUTER) `endpoint`; none: gaps are reported lost")
	n := fs.Int64("n", 0, "stop after this many events (0: no limit)")
	topic := fs.String("topic", "", "subscribe to messages whose topic starts with this `prefix` (vLLM's default topic is empty)")
	timeout := fs.Duration("timeout", 0, "stop after this `duration` (0: no limit); with -n, fewer events by then is a failure")
	engine := fs.String("engine", "engine", "the engine's `name` in the output")
	from := fs.Int64("from", -1, "resume at this sequence `number` (a subscriber's saved position); -1: from the start of the replay buffer")
	noCatchUp := fs.Bool("no-catch-up", false, "with -replay, do not replay the buffered history when joining")
	verbose := fs.Bool("v", false, verboseUsage)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return failf(stderr, "events", exitUsage, "unexpected argument %q (-h for help)", fs.Arg(0))
	case *sub == "":
		return failf(stderr, "events", exitUsage, "-sub is required (-h for help)")
	case *n < 0 || *n > maxEventsN:
		return failf(stderr, "events", exitUsage, "-n %d not in [0, 2^40]", *n)
	case *timeout < 0:
		return failf(stderr, "events", exitUsage, "-timeout %v is negative", *timeout)
	case *from < -1:
		return failf(stderr, "events", exitUsage, "-from %d: want a sequence number or -1", *from)
	case *engine == "":
		return failf(stderr, "events", exitUsage, "-engine must not be empty")
	}
	if err := checkEndpoint("-sub", *sub); err != nil {
		return failf(stderr, "events", exitUsage, "%v", err)
	}
	if *replay != "" {
		if err := checkEndpoint("-replay", *replay); err != nil {
			return failf(stderr, "events", exitUsage, "%v", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	p := &eventPrinter{w: bufio.NewWriterSize(stdout, 64<<10), limit: uint64(*n), done: make(chan struct{})}
	s, err := kvevents.NewSubscriber(ctx, kvevents.SubscriberConfig{Handler: p.handle,
		Logger: zmqLogger("events", *verbose, stderr)})
	if err != nil {
		return failf(stderr, "events", exitFailure, "%v", err)
	}
	ep := kvevents.Endpoint{Engine: *engine, Pub: *sub, Replay: *replay, Topic: *topic, NoCatchUp: *noCatchUp}
	if *from >= 0 {
		ep.NextSeq = kvevents.Some(uint64(*from))
	}
	if err := s.Add(ep); err != nil {
		_ = s.Close()
		return failf(stderr, "events", exitFailure, "%v", err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
	}
	st, _ := s.Remove(*engine) // no handler call after this
	_ = s.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return failf(stderr, "events", exitFailure, "write: %v", p.err)
	}
	if err := p.w.Flush(); err != nil {
		return failf(stderr, "events", exitFailure, "write: %v", err)
	}
	if *n > 0 && p.count < uint64(*n) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		hint := ""
		if f := st.Stats.ConnectFailures; f > 0 && st.Stats.Live == 0 {
			hint = fmt.Sprintf(" (%d connections to -sub failed the ZeroMQ handshake: is it a PUB socket?)", f)
		}
		return failf(stderr, "events", exitFailure, "%d of %d events within -timeout %v%s", p.count, *n, *timeout, hint)
	}
	return exitOK
}

// eventPrinter is the subscriber's handler: one JSON line per event or notice.
type eventPrinter struct {
	mu    sync.Mutex
	w     *bufio.Writer
	limit uint64 // 0: none
	count uint64
	done  chan struct{}
	err   error
	line  []byte
}

func (p *eventPrinter) handle(n kvevents.Notification) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil || p.limit > 0 && p.count >= p.limit {
		return
	}
	switch n.Kind {
	case kvevents.Applied:
		for i := range n.Batch.Events {
			p.line = appendEventLine(p.line[:0], n, &n.Batch.Events[i])
			p.write()
			if p.count++; p.limit > 0 && p.count >= p.limit {
				break
			}
		}
	default:
		p.line = appendNoticeLine(p.line[:0], n)
		p.write()
	}
	if p.err == nil {
		p.err = p.w.Flush() // a line is out as soon as it is known (pipes, tail -f)
	}
	if p.err != nil || p.limit > 0 && p.count >= p.limit {
		select {
		case <-p.done:
		default:
			close(p.done)
		}
	}
}

func (p *eventPrinter) write() {
	if p.err == nil {
		_, p.err = p.w.Write(p.line)
	}
}

// jsonObject appends "key":value pairs in order.
type jsonObject struct{ b []byte }

func (o *jsonObject) raw(k string, v []byte) {
	if len(o.b) > 1 {
		o.b = append(o.b, ',')
	}
	o.b = strconv.AppendQuote(o.b, k)
	o.b = append(o.b, ':')
	o.b = append(o.b, v...)
}

func (o *jsonObject) str(k, v string) { o.raw(k, jsonBytes(v)) }
func (o *jsonObject) u64(k string, v uint64) {
	o.raw(k, strconv.AppendUint(nil, v, 10))
}

func jsonBytes(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen for the values built here
		return []byte("null")
	}
	return b
}

func appendNoticeLine(dst []byte, n kvevents.Notification) []byte {
	o := jsonObject{b: append(dst, '{')}
	switch n.Kind {
	case kvevents.GapRecovered, kvevents.GapLost:
		kind := "gap_recovered"
		if n.Kind == kvevents.GapLost {
			kind = "gap_lost"
		}
		o.str("kind", kind)
		o.str("engine", n.Engine)
		o.u64("from", n.From)
		o.u64("to", n.To)
		if n.Err != nil {
			o.str("error", n.Err.Error())
		}
	case kvevents.Restarted:
		o.str("kind", "restarted")
		o.str("engine", n.Engine)
		o.u64("seq", n.Seq)
	case kvevents.Cleared:
		o.str("kind", "cleared")
		o.str("engine", n.Engine)
		o.u64("seq", n.Seq)
	default:
		o.str("kind", n.Kind.String())
		o.str("engine", n.Engine)
	}
	return append(o.b, '}', '\n')
}

func appendEventLine(dst []byte, n kvevents.Notification, e *kvevents.Event) []byte {
	o := jsonObject{b: append(dst, '{')}
	o.str("kind", "event")
	o.str("engine", n.Engine)
	o.u64("seq", n.Seq)
	o.raw("ts", jsonBytes(n.Batch.TS))
	o.raw("data_parallel_rank", optJSON(n.Batch.DataParallelRank))
	o.raw("replayed", jsonBytes(n.Replayed))
	if e.Type == kvevents.Unknown {
		o.str("type", e.Tag)
		o.str("raw_hex", hex.EncodeToString(e.Raw))
		return append(o.b, '}', '\n')
	}
	o.str("type", e.Type.String())
	if e.Type == kvevents.AllBlocksCleared {
		return append(o.b, '}', '\n')
	}
	hs := make([]any, len(e.BlockHashes))
	for i, h := range e.BlockHashes {
		hs[i] = hashJSON(h)
	}
	o.raw("block_hashes", jsonBytes(hs))
	if e.Type == kvevents.BlockStored {
		parent := any(nil)
		if e.ParentBlockHash.Valid {
			parent = hashJSON(e.ParentBlockHash.Val)
		}
		o.raw("parent_block_hash", jsonBytes(parent))
		o.raw("token_ids", jsonBytes(e.TokenIDs))
		o.raw("block_size", strconv.AppendInt(nil, int64(e.BlockSize), 10))
		o.raw("lora_id", optJSON(e.LoraID))
	}
	o.raw("medium", optJSON(e.Medium))
	if e.Type == kvevents.BlockStored {
		o.raw("lora_name", optJSON(e.LoraName))
		if e.ExtraKeys.Valid {
			o.raw("extra_keys", jsonBytes(genericJSON(e.ExtraKeys.Val)))
		}
	}
	if e.GroupIdx.Valid {
		o.raw("group_idx", jsonBytes(e.GroupIdx.Val))
	}
	if e.Type == kvevents.BlockStored {
		if e.KVCacheSpecKind.Valid {
			o.str("kv_cache_spec_kind", e.KVCacheSpecKind.Val)
		}
		if e.KVCacheSpecSlidingWindow.Valid {
			o.raw("kv_cache_spec_sliding_window", jsonBytes(e.KVCacheSpecSlidingWindow.Val))
		}
	}
	if e.Locality.Valid {
		o.str("locality", e.Locality.Val)
	}
	return append(o.b, '}', '\n')
}

func optJSON[T any](v kvevents.Opt[T]) []byte {
	if !v.Valid {
		return []byte("null")
	}
	return jsonBytes(v.Val)
}

type bytesHex struct {
	Hex string `json:"bytes_hex"`
}

// hashJSON is a block hash as JSON: the integer (exact; negative for a signed
// engine's hash) or {"bytes_hex": ...}.
func hashJSON(h kvevents.BlockHash) any {
	switch {
	case h.IsBytes():
		return bytesHex{hex.EncodeToString(h.Bytes)}
	case h.Negative:
		return int64(h.Value)
	}
	return h.Value
}

// genericJSON converts a decoded msgpack value for encoding/json: bytes become
// {"bytes_hex": ...}, a map (which vLLM never sends) {"map": [[key, value], ...]},
// a non-finite float its name as a string; arrays are converted element by element.
func genericJSON(v any) any {
	switch x := v.(type) {
	case []byte:
		return bytesHex{hex.EncodeToString(x)}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = genericJSON(e)
		}
		return out
	case []kvevents.MapEntry:
		pairs := make([][2]any, len(x))
		for i, e := range x {
			pairs[i] = [2]any{genericJSON(e.Key), genericJSON(e.Value)}
		}
		return map[string]any{"map": pairs}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	}
	return v
}

// checkEndpoint accepts the ZeroMQ endpoints the publishers use: tcp://HOST:PORT,
// ipc://PATH, inproc://NAME.
func checkEndpoint(flag, ep string) error {
	switch {
	case strings.HasPrefix(ep, "ipc://") && len(ep) > len("ipc://"),
		strings.HasPrefix(ep, "inproc://") && len(ep) > len("inproc://"):
		return nil
	case strings.HasPrefix(ep, "tcp://"):
		i := strings.LastIndexByte(ep, ':')
		if port, err := strconv.Atoi(ep[i+1:]); i > len("tcp:") && err == nil && port >= 0 && port <= 65535 {
			return nil
		}
	}
	return fmt.Errorf("%s %q: want tcp://HOST:PORT, ipc://PATH or inproc://NAME", flag, ep)
}
