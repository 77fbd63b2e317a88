package paged

import (
	"fmt"
	"math/bits"
	"sync"

	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// Manager is the paged KV-cache manager a scheduler talks to. It is safe for
// concurrent use: every method takes one mutex (uncontended cost ≈ 10–20 ns), so a
// scheduler goroutine and metrics readers can share it. Batch methods (DecodeStep,
// MarkComputedBatch) take the lock once per batch.
type Manager struct {
	mu     sync.Mutex
	cfg    Config
	bs     int
	shift  int // log2(bs) if bs is a power of two, else -1
	pool   *blockpool.Pool
	host   *blockpool.Pool // host tier, nil without one
	scheme *prefix.Scheme

	seqs      []sequence
	freeSlots []int
	live      int
	stamp     uint64

	stats statsState

	// scratch buffers, reused under the lock
	batch    []*sequence
	hitBuf   []blockpool.BlockID
	tmpChain prefix.Chain
	evHashes []prefix.Hash
	oneBlock [1]blockpool.BlockID
}

// New validates cfg and returns a Manager with every block free.
func New(cfg Config) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, bs: cfg.BlockSize, shift: -1}
	if b := cfg.BlockSize; b&(b-1) == 0 {
		m.shift = bits.TrailingZeros(uint(b))
	}
	var err error
	m.scheme, err = prefix.New(prefix.Config{BlockSize: cfg.BlockSize, Hasher: cfg.Hasher, Seed: cfg.HashSeed})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	m.pool, err = blockpool.New(blockpool.Config{
		NumBlocks: cfg.NumBlocks, BlockSize: cfg.BlockSize, Policy: cfg.ReleasePolicy,
		OnEvict: m.onEvict,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.HostBlocks > 0 {
		if m.host, err = blockpool.New(blockpool.Config{NumBlocks: cfg.HostBlocks, BlockSize: cfg.BlockSize}); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	m.tmpChain = m.scheme.NewChain(prefix.Extras{})
	m.stats.init(cfg.StatsWindow)
	return m, nil
}

// Config returns the validated configuration.
func (m *Manager) Config() Config { return m.cfg }

// Pool returns the underlying block pool for observation (reference counts, cached
// state, free-queue order). Callers must not modify it, and must not read it while
// other goroutines use the Manager.
func (m *Manager) Pool() *blockpool.Pool { return m.pool }

func (m *Manager) onEvict(_ blockpool.BlockID, h uint64, last bool) {
	m.stats.evictions++
	if last && m.cfg.Events != nil {
		m.evHashes = append(m.evHashes[:0], prefix.Hash(h))
		m.cfg.Events.BlocksRemoved(BlocksRemoved{Hashes: m.evHashes})
	}
}

// Add registers a new sequence with its prompt and returns its handle. Prompt tokens
// are copied and their full blocks hashed. The sequence holds no blocks until its
// first Reserve. An empty prompt is an error.
func (m *Manager) Add(prompt []int32, opts SeqOptions) (SeqID, error) {
	if len(prompt) == 0 {
		return 0, fmt.Errorf("%w: empty prompt", ErrInvalidArgument)
	}
	ex := prefix.Extras{Adapter: opts.Adapter, CacheSalt: opts.CacheSalt, MM: opts.MM}
	if err := ex.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, id := m.newSeq()
	if c := max(opts.Capacity, len(prompt)); cap(s.tokens) < c {
		s.tokens = make([]int32, 0, c)
	}
	s.tokens = append(s.tokens, prompt...)
	s.adapter = opts.Adapter
	if len(ex.MM) > 0 {
		ex.MM = append([]prefix.MMItem(nil), ex.MM...)
	}
	s.chain.SetExtras(m.scheme, ex)
	s.chain.Grow(cap(s.tokens) / m.bs)
	s.chain.Extend(s.tokens)
	return id, nil
}

// findHits appends to dst the cached blocks that hold the longest confirmed prefix of
// tokens (at most maxBlocks blocks), walking chain hashes until the first miss. It
// changes nothing.
func (m *Manager) findHits(dst []blockpool.BlockID, c *prefix.Chain, tokens []int32, maxBlocks int) []blockpool.BlockID {
	if !m.cfg.EnablePrefixCaching {
		return dst
	}
	parent := blockpool.Root
	for i := range min(maxBlocks, c.Len()) {
		id, ok := m.pool.Lookup(blockpool.Key{
			Hash: uint64(c.Hash(i)), Parent: parent,
			Tokens: tokens[i*m.bs : (i+1)*m.bs], Extra: c.ExtraFingerprint(i),
		})
		if !ok {
			break
		}
		dst = append(dst, id)
		parent = m.pool.Ref(id)
	}
	return dst
}

// maxHitBlocks caps a hit so the last token of an n-token prompt is always computed
// (its logits are needed).
func (m *Manager) maxHitBlocks(n int) int { return (n - 1) / m.bs }

// CachedPrefix reports how many leading tokens of the sequence's tokens are in the
// prefix cache now: whole blocks only, capped so at least the last token is
// computed. It has no side effects; a Reserve may claim a different amount if the
// cache changes in between.
func (m *Manager) CachedPrefix(id SeqID) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return 0, err
	}
	m.hitBuf = m.findHits(m.hitBuf[:0], &s.chain, s.tokens, m.maxHitBlocks(len(s.tokens)))
	return len(m.hitBuf) * m.bs, nil
}

// LookupPrompt is CachedPrefix for a prompt that has not been added: it hashes the
// prompt (with the given options) and reports how many leading tokens are cached.
// It has no side effects and allocates nothing in steady state.
func (m *Manager) LookupPrompt(prompt []int32, opts SeqOptions) (int, error) {
	ex := prefix.Extras{Adapter: opts.Adapter, CacheSalt: opts.CacheSalt, MM: opts.MM}
	if err := ex.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if len(prompt) == 0 {
		return 0, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tmpChain.SetExtras(m.scheme, ex)
	m.tmpChain.Extend(prompt[:m.maxHitBlocks(len(prompt))*m.bs])
	m.hitBuf = m.findHits(m.hitBuf[:0], &m.tmpChain, prompt, m.tmpChain.Len())
	m.tmpChain.SetExtras(m.scheme, prefix.Extras{}) // drop references to caller data
	return len(m.hitBuf) * m.bs, nil
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
	for _, b := range c.table {
		_ = m.pool.Retain(b) // cannot fail: b is referenced
	}
	c.computed, c.numCached, c.claimed, c.adapter = p.computed, p.numCached, p.claimed, p.adapter
	c.chain.CopyFrom(&p.chain)
	p.reserved, c.reserved = p.computed, p.computed
	return id, nil
}

// Free releases every block of the sequence, tail first (the end of its chain is
// evicted before its beginning), and invalidates id. Cached blocks stay hit-able
// until they are reused.
func (m *Manager) Free(id SeqID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.seq(id)
	if err != nil {
		return err
	}
	pool := m.pool
	if s.swapped {
		pool = m.host
	}
	if err := pool.ReleaseTable(s.table); err != nil {
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

// ResetPrefixCache forgets every cached block. It is refused with ErrCacheInUse while
// any block is referenced by a live sequence; then nothing changes. On success the
// event sink gets AllBlocksCleared and the recent hit-rate window is cleared.
func (m *Manager) ResetPrefixCache() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.pool.ResetCache(); err != nil {
		return fmt.Errorf("%w: %w", ErrCacheInUse, err)
	}
	m.stats.resetWindow()
	if m.cfg.Events != nil {
		m.cfg.Events.AllBlocksCleared()
	}
	return nil
}
