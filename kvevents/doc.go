// Package kvevents speaks vLLM's KV cache events on the wire, in both directions:
// the msgpack encoding of KVEventBatch byte for byte as vLLM's msgspec writes it,
// a ZeroMQ publisher with vLLM's framing, replay buffer and data-parallel port
// offsets, and a subscriber for a fleet of engines that keeps each engine's stream
// in order, fills gaps from the replay socket and says what it could not recover.
// It follows vLLM main at 2f41c894e320 (2026-08-20); the golden vectors in
// ../shared/reference/vllm-compat/event-vectors.json pin every byte (tests find
// them through $PAGEDKV_REFERENCE, the directory holding vllm-compat/, as the
// other packages do; $PAGEDKV_VLLM_COMPAT still names vllm-compat/ itself).
//
// # Events and batches
//
// An engine step's events travel as one Batch, on the wire the 3-element array
// [ts, events, data_parallel_rank]. Each Event is a BlockStored (blocks newly
// cached: hashes, parent, token ids, block size, LoRA, medium, extra keys, KV-cache
// group and spec), a BlockRemoved (blocks evicted) or an AllBlocksCleared (prefix
// cache reset). Since vLLM #42892 (2026-06-09) an event is a msgpack map tagged by
// "type" that omits defaulted fields left at None; before, a positional array
// [tag, field, ...] (LayoutArray), which the decoder still reads and the encoder
// still writes. None is the zero Opt; a block hash is the 64-bit integer vLLM sends
// by default or the raw digest (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0), and
// BlockHash.Key gives the same 64-bit key for both.
//
// Encoding follows msgspec exactly: the tag first, then fields in declaration
// order; fields without a default always (nil for None), defaulted ones only when
// not None; the shortest msgpack form of every integer, string, binary, array and
// map header; floats always float64. Decoding is hardened: a bad payload returns
// an error wrapping ErrMalformed or ErrSchema, never panics, and never allocates
// more than 200 bytes per payload byte (every declared length is checked against
// the bytes left; the worst case is a payload of 2-byte events, each of which takes
// a whole Event in memory); unknown keys are ignored and unknown event types are
// kept verbatim (Unknown), so newer publishers still decode.
//
// A worked example: an engine caches the first two blocks of a prompt (block size
// 16, so 32 tokens) and later evicts the second.
//
//	stored := &kvevents.Batch{TS: 1757500000.25, Events: []kvevents.Event{{
//		Type:        kvevents.BlockStored,
//		BlockHashes: []kvevents.BlockHash{kvevents.HashUint64(5919643161646815916), kvevents.HashUint64(13002451278117060876)},
//		TokenIDs:    tokens[:32], // every token of the two blocks
//		BlockSize:   16,
//		Medium:      kvevents.Some(kvevents.MediumGPU),
//	}}}
//	payload, _ := kvevents.EncodeBatch(stored) // 93 cb 41da305498100000 91 88 a4 "type" ab "BlockStored" ...
//
// The payload is the array header 0x93, ts as float64, a one-element event array,
// and a map of 8 entries: the tag and the seven fields without a default
// (parent_block_hash, lora_id and lora_name written as nil). DecodeBatch(payload)
// gives the batch back, and a router indexing engine caches adds the two hashes'
// Keys under this engine; when the BlockRemoved for 13002451278117060876 arrives
// it removes that key.
//
// # Publishing
//
// A Publisher numbers batches from 0 and sends each as the ZeroMQ message [topic,
// 8-byte big-endian sequence number, payload] on a PUB socket (default
// tcp://*:5557; bound when the endpoint has "*" or "::" or is ipc/inproc, as vLLM
// does, else connected). It keeps the last BufferSteps payloads; a ROUTER socket
// answers a request [identity, "", start seq] with every buffered batch from start
// ([identity, "", topic, seq, payload]) and the end marker [identity, "", "",
// 0xffffffffffffffff, ""]. Data-parallel rank r offsets both ports by r
// (OffsetEndpoint). Publish never blocks: it encodes in the caller's goroutine and
// the socket's high-water mark bounds the send queue.
//
// # Subscribing
//
// A Subscriber follows many engines, one SUB connection per Endpoint (plus a
// DEALER per replay). For each engine its handler receives, in order: Applied for
// every batch exactly once in sequence order; GapRecovered when a gap in the live
// stream was filled by replay; GapLost when batches can never be applied (no replay
// socket, evicted from the publisher's buffer, replay failed, or an undecodable
// payload); Restarted when the sequence goes back (the engine restarted and its
// cache is empty); Cleared after a batch holding AllBlocksCleared. On GapLost and
// Restarted the consumer must drop every entry of that engine: an index that only
// misses entries routes less well, one that keeps stale entries routes requests to
// caches that are gone (llm-d issues #372 and #2853).
//
// Joining: by default the subscriber first replays from NextSeq (or from 0) so an
// index is rebuilt from the publisher's buffer; a restarted subscriber passes the
// EngineStatus.NextSeq it had reached. Live batches that arrive during a replay are
// held (MaxPending) and applied after it; a live batch also delivered by the replay
// is recognised by its sequence number and bytes and applied once.
//
// Limits of the protocol, not of this package: vLLM's messages carry no publisher
// epoch, so a restart is seen only when the live sequence goes back — an engine
// that restarts and publishes past the last number seen before the subscriber
// reconnects is taken for a gap; and a batch lost on the wire is noticed when the
// next one arrives, so an idle engine's last loss waits for its next step.
//
// ZeroMQ is github.com/go-zeromq/zmq4 v0.17.0 (pure Go, as llm-d uses). Three of
// its limits show here: Close of a PUB socket leaves its writer goroutine parked
// (one per publisher); a connection reader blocked on a full queue at Close would
// stay blocked, which the subscriber prevents by draining closed sockets; and it
// has no maximum message size (libzmq's ZMQ_MAXMSGSIZE), so any peer that reaches
// a socket — the publisher's replay ROUTER included — can make the process buffer
// one message as large as it cares to send. Expose the endpoints only to the
// fleet's own network, as vLLM's are.
//
// zmq4 logs a connection that fails the ZMTP handshake on a listening socket (a
// peer that is not ZeroMQ) to its own logger, os.Stderr by default. PublisherConfig
// and SubscriberConfig.Logger route it (log.New(io.Discard, "", 0) silences it);
// PublisherStats.HandshakeFailures and EngineStats.ConnectFailures count such
// failures whatever the logger.
package kvevents
