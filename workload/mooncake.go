package workload

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

func init() {
	Register(Format{Name: "mooncake", Extensions: []string{".jsonl", ".json"}, Parse: ParseMooncake,
		Doc: "Mooncake FAST'25 JSONL (timestamp ms, input_length, output_length, hash_ids)"})
}

// MooncakeBlock is the number of tokens one Mooncake hash id stands for.
const MooncakeBlock = 512

type mooncakeRow struct {
	Timestamp    *float64 `json:"timestamp"`
	InputLength  *int     `json:"input_length"`
	OutputLength *int     `json:"output_length"`
	HashIDs      []int64  `json:"hash_ids"`
}

// ParseMooncake parses the Mooncake JSONL trace: timestamps in milliseconds (in
// time order, at most MaxArrival seconds), input and output lengths, and one hash id
// per 512-token prefix block. The simulator synthesises a block's token ids from its
// id, so equal ids give equal tokens and the trace's prefix sharing becomes real
// sharing in the manager. A request's last block may be partial. Blank lines are
// skipped.
func ParseMooncake(r io.Reader, name string, _ TraceOptions) Source {
	return func(yield func(Request, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		n, prev := 0, -1.0
		fail := func(err error) { yield(Request{}, err) }
		line := 0
		for sc.Scan() {
			line++
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 {
				continue
			}
			var row mooncakeRow
			if err := json.Unmarshal(text, &row); err != nil {
				fail(rowError(name, line, "%v", err))
				return
			}
			if row.Timestamp == nil || row.InputLength == nil || row.OutputLength == nil {
				fail(rowError(name, line, "missing timestamp, input_length or output_length"))
				return
			}
			in, out, arrival := *row.InputLength, *row.OutputLength, *row.Timestamp/1000
			if err := checkRow(name, line, in, out, arrival, prev); err != nil {
				fail(err)
				return
			}
			if need := (in + MooncakeBlock - 1) / MooncakeBlock; len(row.HashIDs) != need {
				fail(rowError(name, line, "%d hash ids for %d tokens (want %d)", len(row.HashIDs), in, need))
				return
			}
			prompt := make([]int32, 0, in)
			for _, h := range row.HashIDs {
				k := min(MooncakeBlock, in-len(prompt))
				for i := range k {
					prompt = append(prompt, blockToken(h, i))
				}
			}
			if !yield(Request{ID: n, Arrival: arrival, Prompt: prompt, OutputLen: out, N: 1}, nil) {
				return
			}
			n, prev = n+1, arrival
		}
		if err := sc.Err(); err != nil {
			fail(fmt.Errorf("%w: %s:%d: %v", ErrInvalid, name, line+1, err))
			return
		}
		if n == 0 {
			fail(fmt.Errorf("%w: %s: no requests", ErrInvalid, name))
		}
	}
}

// blockToken is the i-th token id of the Mooncake block with hash id hashID.
func blockToken(hashID int64, i int) int32 {
	x := uint64(hashID)*0xD6E8FEB86659FD93 + uint64(i)*0x9E3779B97F4A7C15
	x ^= x >> 32
	x *= 0xD6E8FEB86659FD93
	x ^= x >> 32
	return int32(x % Vocab)
}
