package paged

import (
	"fmt"

	"github.com/pagedkv/pagedkv/prefix"
)

// Lookups with hashes computed once elsewhere: a router that models many engines
// (one Manager each) hashes a prompt once and asks every Manager with the same
// chain.

// HashScheme returns the scheme the manager hashes blocks with (immutable and safe to
// share). Chains made from it, or from any scheme with the same block size, hasher
// and seed, can be passed to LookupChain.
func (m *Manager) HashScheme() *prefix.Scheme { return m.scheme }

// LookupChain is LookupPrompt for a prompt whose block hashes are already in chain c
// (built from prompt by a scheme equal to HashScheme(), with the prompt's extra
// keys, which c carries): it reports how many leading tokens of prompt are cached,
// walking c's hashes instead of hashing the prompt again. Hits are confirmed against
// the cached blocks as usual, so a chain from another scheme finds nothing rather
// than wrong blocks. Blocks of prompt beyond c.Len() are not looked up as whole
// blocks: hash at least (len(prompt)−1)/BlockSize blocks for a full answer. It has
// no side effects and allocates nothing in steady state; c is only read. A nil chain,
// a prompt longer than MaxSeqLen, or multimodal items in c's extras that are not
// inside the prompt, sorted and apart (as SeqOptions.MM) give ErrInvalidArgument.
func (m *Manager) LookupChain(c *prefix.Chain, prompt []int32) (int, error) {
	h, err := m.LookupChainTiers(c, prompt)
	return h.Tokens, err
}

// LookupChainTiers is LookupChain with the hit split by tier, as LookupPromptTiers.
func (m *Manager) LookupChainTiers(c *prefix.Chain, prompt []int32) (PrefixHit, error) {
	if c == nil {
		return PrefixHit{}, errf(ErrInvalidArgument, "nil chain")
	}
	if len(prompt) > MaxSeqLen {
		return PrefixHit{}, errf(ErrInvalidArgument, "prompt of %d tokens, more than MaxSeqLen", len(prompt))
	}
	if len(prompt) == 0 {
		return PrefixHit{}, nil
	}
	ex := c.Extras()
	if err := ex.ValidatePrompt(len(prompt)); err != nil {
		return PrefixHit{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := min(m.maxHitBlocks(len(prompt)), m.cfg.NumBlocks+m.tier.blocks, c.Len())
	var fps []uint64
	if m.ownFps { // windowed groups under a foreign Hasher confirm by own fingerprints
		m.tmpFps = extendFingerprints(m.tmpFps[:0], c, prompt, m.bs)
		fps = m.tmpFps
	}
	return m.findPrefix(c, fps, prompt, &ex, n, len(prompt)-1).prefixHit(m.bs), nil
}
