package prefix

import (
	"fmt"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Extras are the per-sequence extra keys that are folded into block hashes.
type Extras struct {
	// Adapter is the LoRA adapter name; it is part of every block's hash.
	Adapter string
	// CacheSalt isolates tenants: it is part of block 0's hash and so, by chaining,
	// of every later one.
	CacheSalt string
	// MM lists multimodal items (images, audio) by content id and placeholder range,
	// sorted by Offset. Every block that overlaps an item includes its id and its
	// offset relative to the block start.
	MM []MMItem
}

// MMItem is one multimodal item occupying tokens [Offset, Offset+Length).
type MMItem struct {
	ID     string
	Offset int
	Length int
}

// Validate reports whether the multimodal items are well formed.
func (e Extras) Validate() error {
	prev := 0
	for i, it := range e.MM {
		if it.Offset < 0 || it.Length <= 0 {
			return fmt.Errorf("%w: item %d has offset %d length %d", ErrInvalidExtras, i, it.Offset, it.Length)
		}
		if it.Offset < prev {
			return fmt.Errorf("%w: items not sorted by offset at item %d", ErrInvalidExtras, i)
		}
		prev = it.Offset
	}
	return nil
}

// Chain holds the hashes of a sequence's full blocks and extends them incrementally.
// A Chain is not safe for concurrent use.
type Chain struct {
	s       *Scheme
	extras  Extras
	hashes  []Hash   // hashes[i] = hash of block i; len = number of full blocks hashed
	extraFP []uint64 // extraFP[i] = fingerprint of block i's extra keys (0 if none)
	scratch []byte
}

// NewChain starts an empty chain for a sequence with the given extra keys. The caller
// validates extras (Extras.Validate) first.
func (s *Scheme) NewChain(extras Extras) Chain {
	return Chain{s: s, extras: extras}
}

// Len returns the number of hashed (full) blocks.
func (c *Chain) Len() int { return len(c.hashes) }

// Hash returns the hash of block i (i < Len()).
func (c *Chain) Hash(i int) Hash { return c.hashes[i] }

// ExtraFingerprint returns a 64-bit fingerprint of block i's extra keys, computed with
// a fixed function independent of the Scheme's Hasher (0 when the block has none). The
// block pool stores it to confirm hits.
func (c *Chain) ExtraFingerprint(i int) uint64 { return c.extraFP[i] }

// Parent returns the parent hash of block i: the root for block 0.
func (c *Chain) Parent(i int) Hash {
	if i == 0 {
		return c.s.root
	}
	return c.hashes[i-1]
}

// Extras returns the chain's extra keys.
func (c *Chain) Extras() Extras { return c.extras }

// Extend hashes every block of tokens that is full and not yet hashed. tokens is the
// sequence's whole token list so far; its already hashed prefix must be unchanged
// since the last call (use Truncate after removing tokens). It returns Len().
func (c *Chain) Extend(tokens []int32) int {
	bs := c.s.blockSize
	for i := len(c.hashes); (i+1)*bs <= len(tokens); i++ {
		var extraStart int
		c.scratch, extraStart = encodeBlock(c.scratch[:0], c.Parent(i), tokens[i*bs:(i+1)*bs], &c.extras, i, bs)
		var fp uint64
		if extraStart < len(c.scratch) {
			fp = xxhash.Sum64(c.scratch[extraStart:]) | 1 // never 0 when extras exist
		}
		c.hashes = append(c.hashes, c.s.hasher.Sum(c.scratch))
		c.extraFP = append(c.extraFP, fp)
	}
	return len(c.hashes)
}

// Truncate keeps only the first n block hashes (after tokens were removed).
func (c *Chain) Truncate(n int) {
	if n < len(c.hashes) {
		c.hashes = c.hashes[:n]
		c.extraFP = c.extraFP[:n]
	}
}

// Reset empties the chain, keeping its buffers and extra keys.
func (c *Chain) Reset() { c.Truncate(0) }

// CopyFrom makes c an independent copy of o (reusing c's buffers).
func (c *Chain) CopyFrom(o *Chain) {
	c.s = o.s
	c.extras = o.extras
	c.hashes = append(c.hashes[:0], o.hashes...)
	c.extraFP = append(c.extraFP[:0], o.extraFP...)
}

// Grow makes room for n more block hashes without reallocating.
func (c *Chain) Grow(n int) {
	c.hashes = slices.Grow(c.hashes, n)
	c.extraFP = slices.Grow(c.extraFP, n)
}

// SetExtras replaces the extra keys and empties the chain (buffers are kept).
func (c *Chain) SetExtras(s *Scheme, e Extras) {
	c.s = s
	c.extras = e
	c.Reset()
}
