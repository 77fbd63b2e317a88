package kvevents

// ring is the publisher's replay buffer: the last cap(items) (seq, payload) pairs,
// like vLLM's deque(maxlen=buffer_steps).
//
// Invariants: 0 ≤ n ≤ len(items); the n entries starting at head (circularly) hold
// consecutive sequence numbers in order; payloads are never modified once pushed
// (they are shared with the PUB socket's queue and replay senders).
type ring struct {
	items []ringItem
	head  int // index of the oldest entry
	n     int
}

type ringItem struct {
	seq     uint64
	payload []byte
}

func newRing(size int) *ring { return &ring{items: make([]ringItem, size)} }

// push appends an entry, evicting the oldest when full. seq must follow the
// newest entry's.
func (r *ring) push(seq uint64, payload []byte) {
	if r.n < len(r.items) {
		r.items[(r.head+r.n)%len(r.items)] = ringItem{seq, payload}
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
	if r.n < 0 || r.n > len(r.items) || (len(r.items) > 0 && (r.head < 0 || r.head >= len(r.items))) {
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
