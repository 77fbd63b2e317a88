package workload

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

func init() {
	Register(Format{Name: "azure2023", Extensions: []string{".csv"}, Parse: ParseAzure,
		Doc: "Azure LLM inference trace 2023 CSV (TIMESTAMP,ContextTokens,GeneratedTokens)"})
}

const azureTime = "2006-01-02 15:04:05.9999999"

// ParseAzure parses the Azure LLM inference trace CSV
// (TIMESTAMP,ContextTokens,GeneratedTokens; the header is optional). The trace has
// lengths only, so each prompt gets fresh random token ids from opt.Seed (no prefix
// sharing); arrival times are relative to the first row, and rows must be in time
// order.
func ParseAzure(r io.Reader, name string, opt TraceOptions) Source {
	return func(yield func(Request, error) bool) {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		rng := rand.New(rand.NewPCG(opt.Seed, 0xA2))
		var t0 time.Time
		n, prev := 0, -1.0
		fail := func(err error) { yield(Request{}, err) }
		for line := 1; ; line++ {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				fail(rowError(name, line, "%v", err))
				return
			}
			if line == 1 && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "TIMESTAMP") {
				continue
			}
			if len(rec) != 3 {
				fail(rowError(name, line, "want 3 fields, got %d", len(rec)))
				return
			}
			ts, err := time.Parse(azureTime, strings.TrimSpace(rec[0]))
			if err != nil {
				fail(rowError(name, line, "bad timestamp %q", rec[0]))
				return
			}
			in, err1 := strconv.Atoi(strings.TrimSpace(rec[1]))
			out, err2 := strconv.Atoi(strings.TrimSpace(rec[2]))
			if err1 != nil || err2 != nil {
				fail(rowError(name, line, "bad token counts %q, %q", rec[1], rec[2]))
				return
			}
			if n == 0 {
				t0 = ts
			}
			arrival := ts.Sub(t0).Seconds()
			if err := checkRow(name, line, in, out, arrival, prev); err != nil {
				fail(err)
				return
			}
			prompt := make([]int32, in)
			for i := range prompt {
				prompt[i] = int32(rng.IntN(Vocab))
			}
			if !yield(Request{ID: n, Arrival: arrival, Prompt: prompt, OutputLen: out, N: 1}, nil) {
				return
			}
			n, prev = n+1, arrival
		}
		if n == 0 {
			fail(fmt.Errorf("%w: %s: no requests", ErrInvalid, name))
		}
	}
}
