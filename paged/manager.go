package paged

import (
	"fmt"
	"math/bits"
	"slices"
	"sync"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// Manager is the paged KV-cache manager a scheduler talks to. It is safe for
// concurrent use: every method takes one mutex (uncontended cost ≈ 10–20 ns), so a
// scheduler goroutine, metrics readers and an event publisher can share it. Batch
// methods (Admit's one walk, DecodeStep, MarkComputedBatch, BlockTables, SeqStates)
// take the lock once per batch.
type Manager struct {
	mu       sync.Mutex
	cfg      Config
	bs       int
	shift    int // log2(bs) if bs is a power of two, else -1
	tokenCap int // NumBlocks × BlockSize: the most tokens the device pool holds
	pool     *blockpool.Pool
	host     *blockpool.Pool // host tier, nil without one
	scheme   *prefix.Scheme

	// grp are the KV-cache groups (one full-attention group without Config.Groups).
	// hybrid: anything but that one group (the per-group code paths run); windowed:
	// some group releases blocks (sequences keep prefix fingerprints, fingerprint.go).
	// full and wins list the indices of the full-attention and windowed groups.
	grp              []group
	hybrid, windowed bool
	full, wins       []int
	// ownFps: windowed with a Hasher not of package prefix, so sequences keep their
	// own prefix fingerprints (fingerprint.go).
	ownFps bool

	// nextIdent is the identity the next freshly computed cached block gets
	// (blockpool.Pool.Cache); identities are never reused.
	nextIdent uint64

	// relCount is scratch for counting the blocks a batch's window releases free
	// (one counter per device block, all zero between calls; windowed only).
	relCount []int32

	seqs      []sequence
	freeSlots []int
	live      int
	stamp     uint64

	stats  statsState
	events eventQueue
	tier   hostTier // the host prefix cache (Config.HostCache)
	pins   pinSet   // Pin / Unpin

	// out is the copy list of the call in progress (between begin and end): every
	// copy a call produces, its allocations' offloads included, is appended here in
	// the order the engine must perform it. inCall is set meanwhile.
	out    []BlockCopy
	inCall bool

	// scratch buffers, reused under the lock
	batch    []*sequence
	hitBuf   []blockpool.BlockID
	look     lookup
	tmpChain prefix.Chain
	tmpFps   []uint64
	oneBlock [1]blockpool.BlockID
	hostOne  [1]blockpool.BlockID // for host-pool calls inside device-pool hooks
}

// New validates cfg (applying the defaults of zero fields; see Config) and returns a
// Manager with every block free.
func New(cfg Config) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Groups = slices.Clone(cfg.Groups)
	m := &Manager{cfg: cfg, bs: cfg.BlockSize, shift: -1, tokenCap: cfg.NumBlocks * cfg.BlockSize}
	m.initGroups()
	if b := cfg.BlockSize; b&(b-1) == 0 {
		m.shift = bits.TrailingZeros(uint(b))
	}
	var err error
	m.scheme, err = prefix.New(prefix.Config{BlockSize: cfg.BlockSize, Hasher: cfg.Hasher, Seed: cfg.HashSeed})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	dc := cfg.devicePoolConfig()
	dc.OnEvict = m.onEvict
	if m.pool, err = blockpool.New(dc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.HostBlocks > 0 {
		hc := cfg.hostPoolConfig()
		hc.OnEvict = m.onHostEvict
		if m.host, err = blockpool.New(hc); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	m.tier.init(&cfg)
	m.tmpChain = m.scheme.NewChain(prefix.Extras{})
	m.stats.init(cfg.StatsWindow)
	digestSize := 0
	if _, ok := m.scheme.VLLM(); ok {
		digestSize = m.scheme.DigestSize()
	}
	m.events.init(cfg.Events, cfg.BlockSize, digestSize)
	return m, nil
}

// newIdent returns a fresh block identity.
func (m *Manager) newIdent() uint64 {
	m.nextIdent++
	return m.nextIdent
}

// Config returns the configuration with the defaults of zero fields applied.
func (m *Manager) Config() Config { return m.cfg }

// caching reports whether prefix caching is on.
func (m *Manager) caching() bool { return !m.cfg.DisablePrefixCaching }

// Add registers a new sequence with its prompt and returns its handle. Prompt tokens
// are copied and their full blocks hashed. The sequence holds no blocks until it is
// admitted (Admit) or reserved (Reserve). An empty prompt, a prompt longer than
// MaxSeqLen or bad options (see SeqOptions) give ErrInvalidArgument.
func (m *Manager) Add(prompt []int32, opts SeqOptions) (SeqID, error) {
	if len(prompt) == 0 || len(prompt) > MaxSeqLen {
		return 0, fmt.Errorf("%w: prompt of %d tokens not in [1, %d]", ErrInvalidArgument, len(prompt), MaxSeqLen)
	}
	if err := opts.validate(len(prompt)); err != nil {
		return 0, err
	}
	ex := opts.extras()
	if len(ex.MM) > 0 {
		ex.MM = slices.Clone(ex.MM)
	}
	if len(ex.PromptEmbeds) > 0 {
		ex.PromptEmbeds = slices.Clone(ex.PromptEmbeds)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, id := m.newSeq()
	if c := max(len(prompt), min(opts.Capacity, m.tokenCap, MaxPreallocTokens)); cap(s.tokens) < c {
		s.tokens = make([]int32, 0, c)
	}
	s.tokens = append(s.tokens, prompt...)
	s.extras = ex
	if m.tier.on && !extrasEmpty(&ex) {
		s.exRef = &prefix.Extras{}
		*s.exRef = ex
	}
	s.priority, s.priorityDur = opts.Priority, opts.PriorityDuration
	s.chain.SetExtras(m.scheme, ex)
	s.chain.Grow(cap(s.tokens) / m.bs)
	s.chain.Extend(s.tokens)
	if m.ownFps {
		s.fps = extendFingerprints(slices.Grow(s.fps, cap(s.tokens)/m.bs), &s.chain, s.tokens, m.bs)
	}
	return id, nil
}

// Fork creates a child sequence that shares every block of parent (reference counts
// go up; nothing is copied). Parallel sampling and beam search fork after computing
// the shared part. The child has the parent's tokens, computed count and options.
// Outstanding reservations of both parent and child are dropped (reserved =
// computed): the next Reserve on either re-reserves, copying on write where a block
// is now shared.
func (m *Manager) Fork(parent SeqID) (SeqID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.onDevice(parent); err != nil {
		return 0, err
	}
	c, id := m.newSeq()
	p, _ := m.seq(parent) // newSeq may have moved m.seqs
	c.tokens = append(c.tokens, p.tokens...)
	c.table = append(c.table, p.table...)
	for g := range p.more {
		c.more[g] = append(c.more[g], p.more[g]...)
	}
	c.fps = append(c.fps, p.fps...)
	for g := range m.grp {
		for _, b := range *c.tab(g) {
			if b != NullBlock {
				_ = m.pool.Retain(b) // cannot fail: b is referenced
			}
		}
	}
	c.computed, c.numCached, c.claimed, c.extras, c.exRef, c.relAt = p.computed, p.numCached, p.claimed, p.extras, p.exRef, p.relAt
	c.nextRel, c.claimAt = p.nextRel, p.relAt
	c.priority, c.priorityDur = p.priority, p.priorityDur
	c.chain.CopyFrom(&p.chain)
	p.reserved, c.reserved = p.computed, p.computed
	return id, nil
}

// Free releases every block of the sequence (device or host tier), tail first (the
// end of its chain is evicted before its beginning), asking its retention priority
// for its cached blocks (SeqOptions.Priority), and invalidates id. Cached blocks stay
// hit-able until they are reused.
func (m *Manager) Free(id SeqID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return err
	}
	switch {
	case s.swapped:
		err = m.host.ReleaseTable(s.table)
	case m.hybrid && m.windowed && m.cfg.GroupedEviction && m.caching():
		err = m.releaseGrouped(s)
	case m.hybrid:
		err = m.releaseGroups(s)
	default:
		err = m.pool.ReleaseTableWith(s.table, m.retention(s))
	}
	if err != nil {
		panic("paged: releasing a live table failed: " + err.Error())
	}
	m.dropSeq(id)
	return nil
}

// NumSequences returns the number of live sequences.
func (m *Manager) NumSequences() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live
}

// ResetPrefixCache forgets every cached block, in both tiers, and every retention
// priority. It is refused with ErrCacheInUse while any device block is referenced by
// a live sequence or a pin; then nothing changes. On success an AllBlocksCleared
// event is queued (and a second one with MediumCPU when the host tier caches) and
// the recent hit-rate window is cleared. Swapped-out sequences keep their host
// blocks.
func (m *Manager) ResetPrefixCache() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.pool.ResetCache(); err != nil {
		return fmt.Errorf("%w: %w", ErrCacheInUse, err)
	}
	m.stats.resetWindow()
	m.events.cleared(MediumGPU)
	if m.tier.on {
		if err := m.host.DropCached(); err != nil {
			panic("paged: host cache in use between calls: " + err.Error())
		}
		m.tier.reset()
		m.events.cleared(MediumCPU)
	}
	return nil
}
