package attention

// Chunked local attention (Llama 4's local layers).
//
// With Params.Chunk = C > 0 the context is cut into chunks of C positions and a
// query at position p attends only to the keys of its own chunk, positions
// [⌊p/C⌋·C, p]. A paged manager (package paged, KV-cache group kind ChunkedLocal)
// releases the blocks of finished chunks and replaces their table entries by a null
// entry (paged.NullBlock, −1), exactly as for a sliding window, so the kernels read
// and check only the blocks from the one holding the earliest query's first key on
// (decode: the sequence's last position; prefill: the chunk's first query). A
// prefill that spans a chunk boundary gives each query row its own first key: rows
// after the boundary never see the keys before it, rows before it see them.
//
// Window and Chunk are mutually exclusive (ErrInvalidConfig when both are set).

// firstKey returns the first key position a query at position pos reads under p's
// mask: a sliding window, a local chunk, or neither (0: every position from 0).
func (p Params) firstKey(pos int) int {
	if p.Chunk > 0 {
		return chunkStart(pos, p.Chunk)
	}
	return firstKey(pos, p.Window)
}

// chunkStart returns the first position of the chunk of chunk positions that holds
// pos (0 when chunk ≤ 0).
func chunkStart(pos, chunk int) int {
	if chunk <= 0 {
		return 0
	}
	return pos / chunk * chunk
}
