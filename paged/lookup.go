package paged

import (
	"github.com/pagedkv/pagedkv/blockpool"
	"github.com/pagedkv/pagedkv/prefix"
)

// findHits appends to dst the cached blocks that hold the longest confirmed prefix of
// tokens (at most maxBlocks blocks), walking chain hashes until the first miss. It
// changes nothing. This is the one chain walk of an admission.
func (m *Manager) findHits(dst []blockpool.BlockID, c *prefix.Chain, tokens []int32, maxBlocks int) []blockpool.BlockID {
	if !m.caching() {
		return dst
	}
	var parent uint64
	for i := range min(maxBlocks, c.Len()) {
		id, ok := m.pool.Lookup(blockpool.Key{
			Hash: uint64(c.Hash(i)), Parent: parent,
			Tokens: tokens[i*m.bs : (i+1)*m.bs], Extra: c.ExtraFingerprint(i),
		})
		if !ok {
			break
		}
		dst = append(dst, id)
		parent = m.pool.Identity(id)
	}
	return dst
}

// maxHitBlocks caps a hit so the last token of an n-token prompt is always computed
// (its logits are needed).
func (m *Manager) maxHitBlocks(n int) int { return (n - 1) / m.bs }

// CachedPrefix reports how many leading tokens of the sequence's tokens are in the
// prefix cache now: whole blocks only, capped so at least the last token is
// computed. It has no side effects; use Admit to look up and claim in one step.
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

// LookupPrompt is CachedPrefix for a prompt that has not been added (a router or
// planner asking "how much of this is cached here?"): it hashes the prompt with the
// given options and reports how many leading tokens are cached. It has no side
// effects and allocates nothing in steady state. An empty prompt reports 0; bad
// options (see SeqOptions) give ErrInvalidArgument.
func (m *Manager) LookupPrompt(prompt []int32, opts SeqOptions) (int, error) {
	if len(prompt) > MaxSeqLen {
		return 0, errf(ErrInvalidArgument, "prompt of %d tokens, more than MaxSeqLen", len(prompt))
	}
	if err := opts.validate(len(prompt)); err != nil {
		return 0, err
	}
	if len(prompt) == 0 {
		return 0, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// A hit never spans more blocks than the pool has: hash no further.
	n := min(m.maxHitBlocks(len(prompt)), m.cfg.NumBlocks)
	m.tmpChain.SetExtras(m.scheme, opts.extras())
	m.tmpChain.Extend(prompt[:n*m.bs])
	m.hitBuf = m.findHits(m.hitBuf[:0], &m.tmpChain, prompt, n)
	m.tmpChain.SetExtras(m.scheme, prefix.Extras{}) // drop references to caller data
	return len(m.hitBuf) * m.bs, nil
}
