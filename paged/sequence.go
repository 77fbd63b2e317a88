package paged

import (
	"fmt"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// SeqID is a handle to a live sequence, returned by Add and Fork. Handles are never
// reused: a freed sequence's SeqID stays invalid. The zero SeqID is never valid.
type SeqID uint64

// SeqOptions are per-sequence options given to Add (and to LookupPrompt, which
// hashes a prompt the same way).
type SeqOptions struct {
	// Adapter is the LoRA adapter name; sequences share blocks only with sequences
	// that use the same adapter.
	Adapter string
	// CacheSalt isolates tenants: sequences share blocks only with sequences that
	// use the same salt.
	CacheSalt string
	// MM lists multimodal items by content id and placeholder range, sorted by
	// offset; blocks overlapping an item are shared only with equal items there.
	// Every item must lie inside the prompt (0 ≤ Offset, 1 ≤ Length, Offset+Length ≤
	// len(prompt)) and items must not overlap; otherwise Add and LookupPrompt return
	// ErrInvalidArgument.
	MM []prefix.MMItem
	// PromptEmbeds, when non-empty, is the prompt given as embeddings (vLLM's
	// prompt_embeds): the raw bytes of its rows as vLLM's tensor_data sees them
	// (row-major, the tensor's dtype, little-endian), EmbedRowBytes bytes per token,
	// exactly one row per prompt token. Each block's hash then includes the SHA-256 of
	// its rows (prefix.Extras.PromptEmbeds), so sequences share blocks only with
	// equal embeddings. Add copies the bytes; otherwise ErrInvalidArgument.
	PromptEmbeds []byte
	// EmbedRowBytes is the size of one token's embedding row (dim × element size);
	// required with PromptEmbeds, 0 without.
	EmbedRowBytes int
	// Capacity, if larger than the prompt, preallocates room for that many tokens so
	// Append does not grow the token slice: 0..MaxSeqLen. Room beyond the pool's
	// token capacity (NumBlocks × BlockSize) is never preallocated, since no
	// sequence can compute more tokens than the pool holds, nor beyond
	// MaxPreallocTokens (4 MiB of token ids per call; Append grows past it).
	Capacity int

	// Priority is the retention priority of the cached blocks the sequence releases,
	// MinPriority..MaxPriority: free cached blocks of a lower priority are evicted
	// before any of a higher one, and within a priority the least recently released
	// first. A block keeps the highest priority any of its releasers asked that has
	// not expired. Default 0. (LookupPrompt, CachedPrefix and Pin ignore it.)
	Priority int
	// PriorityDuration, if positive, ends Priority that many clock ticks (SetClock)
	// after a release: the block then counts as priority 0 (TensorRT-LLM's
	// duration_ms). 0..MaxTime; default 0: the priority never expires.
	PriorityDuration int64
}

// validate checks the options against a prompt of n tokens.
func (o *SeqOptions) validate(n int) error {
	if o.Capacity < 0 || o.Capacity > MaxSeqLen {
		return fmt.Errorf("%w: Capacity %d not in [0, %d]", ErrInvalidArgument, o.Capacity, MaxSeqLen)
	}
	if err := o.validateRetention(); err != nil {
		return err
	}
	if err := o.extras().ValidatePrompt(n); err != nil { // items inside the prompt and apart, one embedding row per token
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return nil
}

// validateRetention checks Priority and PriorityDuration.
func (o *SeqOptions) validateRetention() error {
	if o.Priority < MinPriority || o.Priority > MaxPriority || o.PriorityDuration < 0 || o.PriorityDuration > MaxTime {
		return fmt.Errorf("%w: Priority %d not in [%d, %d] or PriorityDuration %d not in [0, %d]",
			ErrInvalidArgument, o.Priority, MinPriority, MaxPriority, o.PriorityDuration, int64(MaxTime))
	}
	return nil
}

func (o *SeqOptions) extras() prefix.Extras {
	return prefix.Extras{Adapter: o.Adapter, CacheSalt: o.CacheSalt, MM: o.MM,
		PromptEmbeds: o.PromptEmbeds, EmbedRowBytes: o.EmbedRowBytes}
}

// extrasEmpty reports whether a sequence has no extra keys.
func extrasEmpty(e *prefix.Extras) bool {
	return e.Adapter == "" && e.CacheSalt == "" && len(e.MM) == 0 && len(e.PromptEmbeds) == 0
}

// sequence is the manager's state for one sequence. Positions are token indices.
type sequence struct {
	live bool
	gen  uint32 // handle generation, bumped on free
	// tokens are the prompt and accepted tokens (never unverified drafts).
	// Invariant: len(tokens) ≤ MaxSeqLen.
	tokens []int32
	// computed: tokens [0, computed) have KV in the cache (claimed hits included).
	// Invariant: computed ≤ len(tokens) and computed ≤ reserved.
	computed int
	// reserved: positions [0, reserved) have slots. reserved ≤ len(table)×blockSize.
	// Invariant: every block overlapping [computed, reserved) is private to this
	// sequence (ref 1) and uncached, so writing there is safe.
	reserved int
	// table maps block index j (positions [j×bs, (j+1)×bs)) to a physical block: the
	// table of KV-cache group 0.
	table []blockpool.BlockID
	// more are the tables of groups 1, 2, … (nil with one group). Invariants: every
	// group's table has the same length; in a windowed group's table the first
	// skipBlocks(g, relAt) entries are NullBlock and the others are blocks; a
	// full-attention group has no NullBlock.
	more [][]blockpool.BlockID
	// relAt is the computed count at which the windowed groups last released what
	// they no longer need (at the claim and at every reservation: vLLM's
	// remove_skipped_blocks at scheduling). Invariant: relAt ≤ computed.
	relAt int
	// claimAt is relAt when the sequence started (its hit at the claim, the
	// parent's relAt for a fork, else 0): a windowed group's entries before
	// skipBlocks(g, min(claimAt, relAt)) never held a block of this sequence, those
	// from there to skipBlocks(g, relAt) are the blocks it released itself
	// (Config.GroupedEviction brings those back at Free).
	claimAt int
	// nextRel is the least computed count at which some windowed group would
	// release another block (nextRelease), so a reservation before it has nothing to
	// release: one comparison per sequence on the decode path.
	nextRel int
	// numCached: table[0:numCached] (of every group, NullBlock entries aside) are
	// registered in the prefix index under this sequence's chain hashes.
	// Invariant: numCached×bs ≤ computed.
	numCached int
	// claimed is set by the first reservation (which claims prefix hits).
	// Invariant: !claimed ⇒ len(table) == 0 and computed == 0.
	claimed bool
	// swapped: the sequence's computed blocks live in the host tier; table holds host
	// block ids, reserved == computed and numCached == 0. Only Append, Free, State,
	// SeqStates, CachedPrefix, SwapInBlocks and SwapIn apply to a swapped sequence;
	// every other method returns ErrSwapped.
	swapped bool
	// chain hashes tokens' full blocks. Invariant: chain.Len() == len(tokens)/bs.
	chain prefix.Chain
	// fps are the prefix fingerprints of the chain's blocks (fingerprint.go) when a
	// group is windowed and the Hasher is not package prefix's (Manager.ownFps).
	// Invariant: len(fps) == chain.Len() then, else 0.
	fps []uint64
	// extras are the sequence's extra keys (adapter, salt, multimodal items, prompt
	// embeddings), copied at Add and shared read-only with its forks and its events.
	extras prefix.Extras
	// exRef points to a copy of extras that outlives the sequence, for the events of
	// its blocks' host copies (nil without a host cache or without extra keys).
	exRef *prefix.Extras
	// priority and priorityDur are SeqOptions.Priority and PriorityDuration.
	priority    int
	priorityDur int64
	stamp       uint64 // batch duplicate detection
}

func makeID(idx int, gen uint32) SeqID { return SeqID(uint64(gen)<<32 | uint64(idx+1)) }

// seq returns the live sequence id names, or ErrUnknownSequence.
func (m *Manager) seq(id SeqID) (*sequence, error) {
	idx := int(uint32(id)) - 1
	if idx < 0 || idx >= len(m.seqs) || !m.seqs[idx].live || m.seqs[idx].gen != uint32(id>>32) {
		return nil, fmt.Errorf("%w: %d", ErrUnknownSequence, id)
	}
	return &m.seqs[idx], nil
}

// onDevice is seq for operations that need the sequence's blocks on the device: a
// swapped-out sequence gives ErrSwapped.
func (m *Manager) onDevice(id SeqID) (*sequence, error) {
	s, err := m.seq(id)
	if err == nil && s.swapped {
		return nil, fmt.Errorf("%w: sequence %d is swapped out", ErrSwapped, id)
	}
	return s, err
}

// batchOnDevice resolves a batch of ids under the lock: every id must be live, on the
// device and appear once. It fills m.batch and returns it.
func (m *Manager) batchOnDevice(ids []SeqID) ([]*sequence, error) {
	m.stamp++
	batch := m.batch[:0]
	for _, id := range ids {
		s, err := m.onDevice(id)
		if err != nil {
			return nil, err
		}
		if s.stamp == m.stamp {
			return nil, fmt.Errorf("%w: sequence %d appears twice in the batch", ErrInvalidArgument, id)
		}
		s.stamp = m.stamp
		batch = append(batch, s)
	}
	m.batch = batch
	return batch, nil
}

// newSeq takes a slot for a new sequence (reusing a freed slot and its buffers).
func (m *Manager) newSeq() (*sequence, SeqID) {
	var idx int
	if n := len(m.freeSlots); n > 0 {
		idx = m.freeSlots[n-1]
		m.freeSlots = m.freeSlots[:n-1]
	} else {
		m.seqs = append(m.seqs, sequence{})
		idx = len(m.seqs) - 1
	}
	s := &m.seqs[idx]
	s.live = true
	s.tokens = s.tokens[:0]
	s.table = s.table[:0]
	if m.hybrid {
		if len(s.more) != len(m.grp)-1 {
			s.more = make([][]blockpool.BlockID, len(m.grp)-1)
		}
		for g := range s.more {
			s.more[g] = s.more[g][:0]
		}
		s.fps = s.fps[:0]
	}
	s.computed, s.reserved, s.numCached, s.claimed, s.swapped, s.relAt, s.claimAt = 0, 0, 0, false, false, 0, 0
	s.nextRel = m.nextRelease(s)
	s.priority, s.priorityDur = 0, 0
	m.live++
	return s, makeID(idx, s.gen)
}

func (m *Manager) dropSeq(id SeqID) {
	idx := int(uint32(id)) - 1
	s := &m.seqs[idx]
	s.live = false
	s.gen++
	s.extras, s.exRef = prefix.Extras{}, nil // drop references to caller strings
	m.freeSlots = append(m.freeSlots, idx)
	m.live--
}

// tab returns group g's table.
func (s *sequence) tab(g int) *[]blockpool.BlockID {
	if g == 0 {
		return &s.table
	}
	return &s.more[g-1]
}

// blocksFor returns the number of blocks that hold n tokens.
func (m *Manager) blocksFor(n int) int { return m.div(n + m.bs - 1) }

// div returns n / BlockSize, with a shift when the block size is a power of two
// (divisions dominate the per-token cost otherwise).
func (m *Manager) div(n int) int {
	if m.shift >= 0 {
		return n >> m.shift
	}
	return n / m.bs
}
