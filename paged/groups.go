package paged

import (
	"fmt"

	"github.com/pagedkv/pagedkv/block"
)

// KV-cache groups (hybrid models).
//
// A hybrid model interleaves layers of different attention kinds (Gemma 2/3: full
// and sliding-window; Llama 4: full and chunked local; gpt-oss: full and a 128-token
// window). As in vLLM's hybrid allocator, the layers are split into groups of
// same-kind layers (Config.Groups), every sequence has one block table per group, and
// all groups draw their blocks from the one pool. A group only keeps the blocks its
// layers still attend to: a sliding-window or chunked-local group releases the blocks
// that left its window and puts NullBlock in their table entries, so positions stay
// aligned (position p is still in entry p/BlockSize). A prefix hit must be valid for
// every group at once (HybridKVCacheCoordinator's fixed point, see lookup_hybrid.go).
//
// # Page sizes
//
// All groups share the manager's BlockSize in tokens, so a hit, a reservation or a
// slot offset means the same positions in every group, and a block id is a block of
// the one pool whichever group holds it. Bytes are reconciled by padding: a pool
// block is BlockBytes = BlockSize × the largest group's BytesPerToken, and a group
// whose layers need fewer bytes per token leaves the rest of its blocks unused.
// vLLM gets the same uniform page differently: it makes every group hold the same
// number of layers (adding padding layers) and, where per-layer pages still differ,
// multiplies the block size (in tokens) of the smaller pages. Groups with the same
// number of equal layers, the common case (Gemma 2: 21 + 21 layers; gpt-oss-20b:
// 12 + 12), need no padding in either scheme. Different block sizes per group are
// not supported.

// GroupKind is the attention kind of a KV-cache group's layers.
type GroupKind uint8

const (
	// FullAttention layers attend to every earlier position: the group keeps every
	// block, and a prefix hit needs every block before the hit point. The zero value.
	FullAttention GroupKind = iota
	// SlidingWindow layers attend to the last Window positions (a query at p reads
	// (p−Window, p]): the blocks wholly before position computed−Window+1 are
	// released when the sequence's next reservation is made, and a hit needs only
	// the last ceil((Window−1)/BlockSize) blocks before it.
	SlidingWindow
	// ChunkedLocal layers (Llama 4's local attention) attend within chunks of Window
	// positions: a query at p reads [p − p mod Window, p]. Blocks of finished chunks
	// are released, and a hit needs only the blocks of its own chunk.
	ChunkedLocal
)

// String returns "full", "sliding-window" or "chunked-local".
func (k GroupKind) String() string {
	switch k {
	case FullAttention:
		return "full"
	case SlidingWindow:
		return "sliding-window"
	case ChunkedLocal:
		return "chunked-local"
	}
	return fmt.Sprintf("GroupKind(%d)", int(k))
}

// KVGroup describes one KV-cache group: a set of layers of one attention kind that
// share a block table.
type KVGroup struct {
	// Kind is the attention kind. Default FullAttention.
	Kind GroupKind
	// Window is the sliding window (SlidingWindow, 2..MaxSeqLen) or the chunk size
	// (ChunkedLocal, 1..MaxSeqLen) in tokens; 0 for FullAttention.
	Window int
	// BytesPerToken is the KV bytes one token takes in this group's layers (K and V,
	// all the group's layers): 0..MaxGroupBytesPerToken. It sizes the pool's blocks
	// (Config.BlockBytes); 0 means not given (then BlockBytes is 0 too). The manager
	// counts blocks, not bytes: BytesPerToken changes nothing else.
	BytesPerToken int64
}

// Limits on Config.Groups.
const (
	// MaxGroups is the most KV-cache groups a Config may list.
	MaxGroups = 64
	// MaxGroupBytesPerToken bounds KVGroup.BytesPerToken (2^40), so BlockBytes fits an
	// int64 with any BlockSize.
	MaxGroupBytesPerToken = 1 << 40
)

// NullBlock is the block-table entry of a block a windowed group released: the
// position is outside every window of the sequence's future tokens, so no kernel may
// read it. It is negative, never a block id; an engine whose kernels need an
// in-range id may substitute any block for it (it is never read).
const NullBlock block.ID = -1

// BlockBytes returns the bytes of one pool block: BlockSize (its default applied) ×
// the largest BytesPerToken of the groups, 0 when no group gives its bytes. Group g
// uses BlockSize × Groups[g].BytesPerToken of each block it holds; the rest is
// padding (see the package documentation of KV-cache groups).
func (c Config) BlockBytes() int64 {
	bs := int64(c.BlockSize)
	if bs == 0 {
		bs = DefaultBlockSize
	}
	var most int64
	for _, g := range c.Groups {
		most = max(most, g.BytesPerToken)
	}
	if most < 0 || most > MaxGroupBytesPerToken || bs < 0 || bs > MaxBlockSize {
		return 0
	}
	return bs * most
}

// validateGroups checks Config.Groups and the features that do not combine with
// groups. hybrid is whether the groups are more than one full-attention group.
func (c *Config) validateGroups() error {
	if len(c.Groups) > MaxGroups {
		return fmt.Errorf("%w: %d KV cache groups, more than MaxGroups (%d)", ErrInvalidConfig, len(c.Groups), MaxGroups)
	}
	full := false
	for i, g := range c.Groups {
		switch {
		case g.Kind > ChunkedLocal:
			return fmt.Errorf("%w: Groups[%d].Kind %v", ErrInvalidConfig, i, g.Kind)
		case g.Kind == FullAttention && g.Window != 0:
			return fmt.Errorf("%w: Groups[%d] is full attention with Window %d (want 0)", ErrInvalidConfig, i, g.Window)
		case g.Kind == SlidingWindow && (g.Window < 2 || g.Window > MaxSeqLen):
			return fmt.Errorf("%w: Groups[%d] sliding window %d not in [2, %d]", ErrInvalidConfig, i, g.Window, MaxSeqLen)
		case g.Kind == ChunkedLocal && (g.Window < 1 || g.Window > MaxSeqLen):
			return fmt.Errorf("%w: Groups[%d] attention chunk %d not in [1, %d]", ErrInvalidConfig, i, g.Window, MaxSeqLen)
		case g.BytesPerToken < 0 || g.BytesPerToken > MaxGroupBytesPerToken:
			return fmt.Errorf("%w: Groups[%d].BytesPerToken %d not in [0, %d]", ErrInvalidConfig, i, g.BytesPerToken, int64(MaxGroupBytesPerToken))
		}
		full = full || g.Kind == FullAttention
	}
	for i, g := range c.Groups {
		if g.Kind == ChunkedLocal && !full {
			// A prompt would "hit" whole chunks with no cached block at all; only
			// full-attention layers tie a chunk's KV to what came before.
			return fmt.Errorf("%w: Groups[%d] is chunked local attention without a full-attention group", ErrInvalidConfig, i)
		}
	}
	if !c.hybrid() {
		return nil
	}
	refuse := func(what string) error {
		return fmt.Errorf("%w: %s with KV cache groups (%d groups, windowed %v) is not supported",
			ErrInvalidConfig, what, len(c.Groups), c.windowed())
	}
	switch {
	case c.HostBlocks > 0:
		return refuse("HostBlocks (swapping and the host prefix cache)")
	case c.PartialBlockReuse:
		return refuse("PartialBlockReuse")
	case c.RegisterAtReserve:
		return refuse("RegisterAtReserve")
	case c.DropLastHitBlock:
		return refuse("DropLastHitBlock")
	}
	return nil
}

// hybrid reports whether the groups are anything but one full-attention group (the
// default, which runs the plain single-table code).
func (c *Config) hybrid() bool {
	return len(c.Groups) > 1 || len(c.Groups) == 1 && c.Groups[0].Kind != FullAttention
}

// windowed reports whether some group releases blocks (sliding window or chunked).
func (c *Config) windowed() bool {
	for _, g := range c.Groups {
		if g.Kind != FullAttention {
			return true
		}
	}
	return false
}

// Groups returns the KV-cache groups in effect: Config.Groups, or one full-attention
// group when it is empty.
func (m *Manager) Groups() []KVGroup {
	if len(m.cfg.Groups) == 0 {
		return []KVGroup{{Kind: FullAttention}}
	}
	return append([]KVGroup(nil), m.cfg.Groups...)
}

// NumGroups returns the number of KV-cache groups (1 without Config.Groups).
func (m *Manager) NumGroups() int { return len(m.grp) }

// group is the manager's view of one KV-cache group.
type group struct {
	kind   GroupKind
	window int
}

// skipTokens returns how many leading positions of a sequence with computed tokens
// group g's layers will never read again (vLLM's get_num_skipped_tokens): 0 for full
// attention, computed−W+1 for a sliding window W, the start of the current chunk for
// chunked local attention.
func (g *group) skipTokens(computed int) int {
	switch g.kind {
	case SlidingWindow:
		return max(0, computed-g.window+1)
	case ChunkedLocal:
		return computed / g.window * g.window
	}
	return 0
}

// skipBlocks returns the number of leading table entries of group gi that are
// NullBlock when computed tokens are computed: the blocks wholly before skipTokens.
func (m *Manager) skipBlocks(gi, computed int) int {
	if !m.windowed {
		return 0
	}
	return m.div(m.grp[gi].skipTokens(computed))
}

// spanBlocks bounds the blocks group gi holds at once while n new tokens (plus
// lookahead, in n) are reserved: every block for full attention (the caller caps it
// by the whole sequence), else the blocks the window (or chunk) before the tokens
// and the tokens themselves can touch.
func (m *Manager) spanBlocks(gi, n int) int {
	g := &m.grp[gi]
	if g.kind == FullAttention {
		return MaxSeqLen + MaxNumBlocks
	}
	return m.blocksFor(g.window-1+n) + 1
}

// checkGroup range-checks a group index.
func (m *Manager) checkGroup(g int) error {
	if g < 0 || g >= len(m.grp) {
		return errf(ErrInvalidArgument, "group %d not in [0, %d)", g, len(m.grp))
	}
	return nil
}

// initGroups sets up the groups from the validated config.
func (m *Manager) initGroups() {
	gs := m.cfg.Groups
	if len(gs) == 0 {
		gs = []KVGroup{{Kind: FullAttention}}
	}
	m.hybrid, m.windowed = m.cfg.hybrid(), m.cfg.windowed()
	m.ownFps = m.windowed && !trustedHasher(m.cfg.Hasher)
	if m.windowed {
		m.relCount = make([]int32, m.cfg.NumBlocks)
	}
	for i, g := range gs {
		m.grp = append(m.grp, group{kind: g.Kind, window: g.Window})
		if g.Kind == FullAttention {
			m.full = append(m.full, i)
		} else {
			m.wins = append(m.wins, i)
		}
	}
}
