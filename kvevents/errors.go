package kvevents

import "errors"

// Sentinel errors; every error this package returns wraps one of them (test with
// errors.Is).
var (
	// ErrMalformed: the payload is not well-formed msgpack — truncated, a declared
	// length beyond the remaining bytes, nesting deeper than the decoder allows,
	// a reserved code, or bytes after the batch.
	ErrMalformed = errors.New("kvevents: malformed msgpack")
	// ErrSchema: well-formed msgpack that is not a KVEventBatch — a wrong type, a
	// missing required field, or a value out of range (e.g. a token id beyond
	// int32).
	ErrSchema = errors.New("kvevents: not a KV event batch")
	// ErrInvalidEvent: a Batch or Event that cannot be encoded as vLLM would (a
	// field its type does not have, an unsupported extra-key value, ...).
	ErrInvalidEvent = errors.New("kvevents: invalid event")
	// ErrConfig: an invalid publisher or subscriber configuration or endpoint.
	ErrConfig = errors.New("kvevents: invalid configuration")
	// ErrClosed: the publisher or subscriber was closed.
	ErrClosed = errors.New("kvevents: closed")
	// ErrFrame: a ZMQ message whose frames do not follow vLLM's framing.
	ErrFrame = errors.New("kvevents: bad frame")
)
