package attention

// Sliding windows and released blocks.
//
// A paged manager that serves a hybrid model (package paged's KV-cache groups) gives
// a sliding-window layer the block table of its group, in which the blocks wholly
// before the window were released and replaced by a null entry (paged.NullBlock,
// −1): positions stay aligned, and those blocks may already hold another sequence's
// KV. With Params.Window set, the kernels read and check only the blocks from the
// one holding the first position of the earliest query's window: firstKey of the
// first query (decode: the sequence's last position; prefill: the chunk's first).
// What the table holds before that block is never looked at.

// firstKey returns the first key position a query at position pos reads with a
// sliding window of window tokens (0: no window, every position from 0).
func firstKey(pos, window int) int {
	if window <= 0 {
		return 0
	}
	return max(0, pos-window+1)
}
