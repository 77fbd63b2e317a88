package workload

import (
	"fmt"
	"iter"
)

// A Source yields requests one at a time in nondecreasing arrival order. It stops
// after yielding an error (with a zero Request). Ranging over a Source again starts
// over and yields the same requests — the simulator ranges twice: once to count the
// requests and find the arrival window, once to serve them — except for a Source a
// Parser made from an io.Reader, which can be ranged once (Collect it, or use
// OpenTrace).
//
// Nothing is materialised beyond what the consumer holds: a simulator serving a
// million requests holds only those in flight.
type Source func(yield func(Request, error) bool)

// Seq returns s as an iter.Seq2, for iter.Pull2 and other iterator helpers.
func (s Source) Seq() iter.Seq2[Request, error] { return iter.Seq2[Request, error](s) }

// Slice returns a Source over reqs (which must be sorted by arrival: the source
// yields an error at the first request that arrives before its predecessor). The
// requests are not copied; the consumer must not modify their prompts.
func Slice(reqs []Request) Source {
	return func(yield func(Request, error) bool) {
		for i, r := range reqs {
			if i > 0 && r.Arrival < reqs[i-1].Arrival {
				yield(Request{}, fmt.Errorf("%w: request %d (index %d) arrives at %v s, before its predecessor at %v s",
					ErrInvalid, r.ID, i, r.Arrival, reqs[i-1].Arrival))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Collect ranges over src and returns its requests, or its first error.
func Collect(src Source) ([]Request, error) {
	var reqs []Request
	for r, err := range src {
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
	}
	return reqs, nil
}

// Take returns a Source of the first n requests of src.
func Take(src Source, n int) Source {
	return func(yield func(Request, error) bool) {
		if n <= 0 {
			return
		}
		i := 0
		for r, err := range src {
			if !yield(r, err) || err != nil {
				return
			}
			if i++; i == n {
				return
			}
		}
	}
}
