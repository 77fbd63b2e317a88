package workload

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalid reports a bad workload description, request or trace row.
var ErrInvalid = errors.New("workload: invalid input")

// Limits on what a source may yield, so that no input — a flag, a trace row — can
// make the simulator allocate without bound. Sources and the simulator check them.
const (
	// MaxTokens bounds a prompt's length and a requested output length (2^20: 4 MiB
	// of token ids, eight times the longest built-in model context).
	MaxTokens = 1 << 20
	// MaxWidth bounds the parallel samples or beam width of a request.
	MaxWidth = 256
	// MaxArrival bounds an arrival time, in seconds (about three years): beyond it a
	// float64 clock could no longer resolve an iteration.
	MaxArrival = 1e8
	// MaxRequests bounds a synthetic workload's request count.
	MaxRequests = 1 << 20
	// MaxTurns bounds the turns of a multi-turn session.
	MaxTurns = 256
)

// Vocab is the size of the vocabulary synthetic token ids are drawn from.
const Vocab = 50000

// Request is one serving request.
type Request struct {
	// ID identifies the request within its source (synthetic: generation order;
	// traces: row order).
	ID int
	// Arrival is in seconds from the start, in [0, MaxArrival].
	Arrival float64
	// Prompt holds the prompt's token ids (1 to MaxTokens). Equal prefixes (a system
	// prompt, an earlier turn, a shared Mooncake block) are equal token ids, so
	// prefix caching finds them.
	Prompt []int32
	// OutputLen is the number of tokens to generate, in [1, MaxTokens].
	OutputLen int
	// N is the number of parallel samples (0 or 1: one); Beam > 0 means beam search
	// of that width (N is then ignored). Both at most MaxWidth.
	N    int
	Beam int
}

// Width is the number of sequences the request decodes at once.
func (r *Request) Width() int {
	if r.Beam > 0 {
		return r.Beam
	}
	return max(1, r.N)
}

// Validate checks the request against the limits above.
func (r *Request) Validate() error {
	switch {
	case !(r.Arrival >= 0 && r.Arrival <= MaxArrival):
		return fmt.Errorf("%w: request %d: arrival %v s not in [0, %g]", ErrInvalid, r.ID, r.Arrival, float64(MaxArrival))
	case len(r.Prompt) < 1 || len(r.Prompt) > MaxTokens:
		return fmt.Errorf("%w: request %d: prompt of %d tokens not in [1, %d]", ErrInvalid, r.ID, len(r.Prompt), MaxTokens)
	case r.OutputLen < 1 || r.OutputLen > MaxTokens:
		return fmt.Errorf("%w: request %d: output length %d not in [1, %d]", ErrInvalid, r.ID, r.OutputLen, MaxTokens)
	case r.N < 0 || r.N > MaxWidth || r.Beam < 0 || r.Beam > MaxWidth:
		return fmt.Errorf("%w: request %d: n %d, beam %d not in [0, %d]", ErrInvalid, r.ID, r.N, r.Beam, MaxWidth)
	}
	return nil
}

// OutputToken is the id of the i-th generated token of sequence seq of request id.
// It is deterministic, so a multi-turn workload can put the same tokens in the next
// turn's prompt and the simulator generates exactly them.
func OutputToken(id, seq, i int) int32 {
	x := uint64(id)*0x9E3779B97F4A7C15 ^ uint64(seq)*0xBF58476D1CE4E5B9 ^ uint64(i)*0x94D049BB133111EB
	x ^= x >> 31
	return int32(x % Vocab)
}

// finite reports whether v is a finite number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
