package kvevents

import "slices"

// ring is the publisher's replay buffer: the last size (seq, payload) pairs, like
// vLLM's deque(maxlen=buffer_steps). Its slots are allocated as batches arrive, so a
// large BufferSteps costs memory only once that many batches were published.
//
// Invariants: n == len(items) ≤ size; head == 0 until the ring is full (n == size);
// the n entries starting at head (circularly) hold consecutive sequence numbers in
// order; payloads are never modified once pushed (they are shared with the PUB
// socket's queue and replay senders).
type ring struct {
	items []ringItem
	size  int // capacity in entries (BufferSteps), > 0
	head  int // index of the oldest entry
	n     int
}

type ringItem struct {
	seq     uint64
	payload []byte
}

func newRing(size int) *ring { return &ring{size: size} }

// push appends an entry, evicting the oldest when full. seq must follow the
// newest entry's.
func (r *ring) push(seq uint64, payload []byte) {
	if r.n < r.size {
		if len(r.items) == cap(r.items) { // grow by doubling, never beyond size
			r.items = slices.Grow(r.items, min(max(r.n, 16), r.size-r.n))
		}
		r.items = append(r.items, ringItem{seq, payload})
		r.n++
		return
	}
	r.items[r.head] = ringItem{seq, payload}
	r.head = (r.head + 1) % len(r.items)
}

// from appends to dst every entry with seq ≥ start, oldest first.
func (r *ring) from(start uint64, dst []ringItem) []ringItem {
	if r.n == 0 {
		return dst
	}
	first := r.items[r.head].seq
	skip := 0
	if start > first {
		if start-first >= uint64(r.n) {
			return dst
		}
		skip = int(start - first)
	}
	for i := skip; i < r.n; i++ {
		dst = append(dst, r.items[(r.head+i)%len(r.items)])
	}
	return dst
}

// checkInvariants reports the first broken invariant (tests).
func (r *ring) checkInvariants() error {
	if r.n != len(r.items) || r.n > r.size || (r.n < r.size && r.head != 0) || (r.n > 0 && (r.head < 0 || r.head >= r.n)) {
		return errRing("bounds")
	}
	for i := 1; i < r.n; i++ {
		if r.items[(r.head+i)%len(r.items)].seq != r.items[(r.head+i-1)%len(r.items)].seq+1 {
			return errRing("sequence numbers not consecutive")
		}
	}
	return nil
}

type errRing string

func (e errRing) Error() string { return "kvevents: ring invariant: " + string(e) }
