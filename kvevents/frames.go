package kvevents

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// EndSeq is the sequence number of vLLM's replay end marker:
// (-1).to_bytes(8, "big", signed=True), eight 0xff bytes.
const EndSeq uint64 = math.MaxUint64

// AppendSeq appends seq as vLLM's 8-byte big-endian sequence frame.
func AppendSeq(dst []byte, seq uint64) []byte { return binary.BigEndian.AppendUint64(dst, seq) }

// ParseSeq reads a sequence frame, which must be exactly 8 bytes (ErrFrame
// otherwise).
func ParseSeq(frame []byte) (uint64, error) {
	if len(frame) != 8 {
		return 0, fmt.Errorf("%w: sequence frame of %d bytes, want 8", ErrFrame, len(frame))
	}
	return binary.BigEndian.Uint64(frame), nil
}

// parseStartSeq reads a replay request's start sequence as vLLM does,
// int.from_bytes(frame, "big"): any length; a value beyond 64 bits saturates
// (nothing is buffered from there).
func parseStartSeq(frame []byte) uint64 {
	var v uint64
	for i, c := range frame {
		if i < len(frame)-8 && c != 0 {
			return math.MaxUint64
		}
		v = v<<8 | uint64(c)
	}
	return v
}

// OffsetEndpoint applies vLLM's data-parallel offset (ZmqEventPublisher.
// offset_endpoint_port) to a publisher endpoint: rank 0 and "" are unchanged; an
// inproc endpoint gets "_dp<rank>" appended; a tcp endpoint's port (after the last
// colon) grows by rank; any other endpoint with rank > 0 is an error wrapping
// ErrConfig (vLLM raises ValueError), and so are a negative rank and a port that is
// not a decimal number in [0, 65535] before and after the offset. Subscribers use it
// to find rank r's sockets.
func OffsetEndpoint(endpoint string, rank int) (string, error) {
	if rank < 0 {
		return "", fmt.Errorf("%w: data-parallel rank %d < 0", ErrConfig, rank)
	}
	if endpoint == "" || rank == 0 {
		return endpoint, nil
	}
	if strings.Contains(endpoint, "inproc") {
		return endpoint + "_dp" + strconv.Itoa(rank), nil
	}
	if strings.Contains(endpoint, "tcp") {
		i := strings.LastIndexByte(endpoint, ':')
		if i < 0 {
			return endpoint, nil
		}
		digits := endpoint[i+1:]
		port, err := strconv.Atoi(digits)
		if err != nil || digits[0] < '0' || digits[0] > '9' || port > maxPort {
			return "", fmt.Errorf("%w: endpoint %q has no port in [0, %d] to offset by rank %d", ErrConfig, endpoint, maxPort, rank)
		}
		if rank > maxPort-port {
			return "", fmt.Errorf("%w: endpoint %q offset by rank %d is beyond port %d", ErrConfig, endpoint, rank, maxPort)
		}
		return endpoint[:i+1] + strconv.Itoa(port+rank), nil
	}
	return "", fmt.Errorf("%w: endpoint %q: must contain 'inproc' or 'tcp' to offset by rank %d", ErrConfig, endpoint, rank)
}

// maxPort is the largest TCP port.
const maxPort = 65535

// BindsEndpoint reports whether vLLM binds its PUB socket to endpoint (rather than
// connecting to a subscriber that binds): when it contains "*" or "::" or starts
// with ipc:// or inproc://.
func BindsEndpoint(endpoint string) bool {
	return strings.Contains(endpoint, "*") || strings.Contains(endpoint, "::") ||
		strings.HasPrefix(endpoint, "ipc://") || strings.HasPrefix(endpoint, "inproc://")
}

// replayFrame is one message the replay socket returns to a DEALER client, read
// after the routing envelope's empty delimiter.
type replayFrame struct {
	seq     uint64
	payload []byte
	end     bool
}

// parseReplayFrames reads a replay reply as a DEALER client receives it:
// [empty delimiter, topic, seq, payload] since vLLM #45177 (2026-07-07),
// [empty delimiter, seq, payload] before; the end marker carries EndSeq.
func parseReplayFrames(frames [][]byte) (replayFrame, error) {
	if len(frames) == 0 || len(frames[0]) != 0 {
		return replayFrame{}, fmt.Errorf("%w: replay reply without the empty delimiter (%d frames)", ErrFrame, len(frames))
	}
	frames = frames[1:]
	var seqFrame, payload []byte
	switch len(frames) {
	case 3:
		seqFrame, payload = frames[1], frames[2]
	case 2:
		seqFrame, payload = frames[0], frames[1]
	default:
		return replayFrame{}, fmt.Errorf("%w: replay reply of %d frames after the delimiter, want 3 (or 2 before vLLM #45177)", ErrFrame, len(frames))
	}
	seq, err := ParseSeq(seqFrame)
	if err != nil {
		return replayFrame{}, err
	}
	return replayFrame{seq: seq, payload: payload, end: seq == EndSeq}, nil
}

// parseLiveFrames reads a PUB message [topic, seq, payload].
func parseLiveFrames(frames [][]byte) (seq uint64, payload []byte, err error) {
	if len(frames) != 3 {
		return 0, nil, fmt.Errorf("%w: live message of %d frames, want [topic, seq, payload]", ErrFrame, len(frames))
	}
	seq, err = ParseSeq(frames[1])
	return seq, frames[2], err
}
