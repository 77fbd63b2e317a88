package blockpool

import "fmt"

// Test-only views of the pool.

// NumDistinctHashes returns the number of distinct hashes in the index.
func (p *Pool) NumDistinctHashes() int { return p.index.head.len() }

// Evictions returns how many cached blocks lost their hash by being reused.
func (p *Pool) Evictions() uint64 { return p.evictions }

// Policy returns the release policy.
func (p *Pool) Policy() ReleasePolicy { return p.policy }

// Uncache removes block id's hash, wherever the block is, and reports the hash and
// whether it was the last block carrying it.
func (p *Pool) Uncache(id BlockID) (hash uint64, last bool, err error) {
	if err := p.check(id); err != nil {
		return 0, false, err
	}
	if !p.blocks[id].cached() {
		return 0, false, fmt.Errorf("%w: block %d is not cached", ErrInvalidBlock, id)
	}
	h, last := p.index.remove(id)
	return h, last, nil
}
