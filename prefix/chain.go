package prefix

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
)

// Chain holds the hashes of a sequence's full blocks and extends them incrementally.
// A Chain is not safe for concurrent use. Its buffers are reused: once they have
// grown, Extend allocates nothing.
type Chain struct {
	s      *Scheme
	extras Extras
	// hashes[i] is block i's Hash; len(hashes) is the number of full blocks hashed.
	hashes []Hash
	// extraFP[i] is the fingerprint of block i's extra keys (0 if none).
	// Invariant: len(extraFP) == len(hashes).
	extraFP []uint64
	// digests holds the full digests of vLLM schemes, DigestSize bytes per block
	// (empty for pagedkv's own hashers, whose digest is the Hash). Invariants:
	// len(digests) == len(hashes)*DigestSize, and hashes[i] is the last 8 bytes of
	// block i's digest, big-endian.
	digests []byte
	// mmCursor[i] is the multimodal scan cursor block i was hashed with (vLLM
	// schemes with multimodal items only; see AppendExtraKeys). Invariant:
	// len(mmCursor) == len(hashes) when it is kept, else 0.
	mmCursor []int32
	scratch  []byte
	sel      []int32 // multimodal items selected for the block being hashed (vLLM)
	pk       pickler // pickle writer (vLLM pickle algorithms)
	// trace, if set (tests only), sees every vLLM block's serialized payload.
	trace func(block int, payload []byte)
}

// NewChain starts an empty chain for a sequence with the given extra keys. The caller
// validates extras (Extras.Validate) first.
func (s *Scheme) NewChain(extras Extras) Chain {
	return Chain{s: s, extras: extras}
}

// Len returns the number of hashed (full) blocks.
func (c *Chain) Len() int { return len(c.hashes) }

// Hash returns the 64-bit hash of block i (i < Len()). For a vLLM scheme it is vLLM's
// event block id: the last 8 bytes of the digest, big-endian.
func (c *Chain) Hash(i int) Hash { return c.hashes[i] }

// AppendDigest appends block i's full digest (i < Len()) to dst: DigestSize bytes,
// the value vLLM chains and keys its cache by for vLLM schemes, the Hash in 8
// big-endian bytes otherwise. Its last 8 bytes are always Hash(i), big-endian.
func (c *Chain) AppendDigest(dst []byte, i int) []byte {
	if c.s.v != nil {
		k := c.s.v.size
		return append(dst, c.digests[i*k:(i+1)*k]...)
	}
	return binary.BigEndian.AppendUint64(dst, uint64(c.hashes[i]))
}

// ExtraFingerprint returns a 64-bit fingerprint of block i's extra keys, computed with
// a fixed function independent of the Scheme's Hasher (0 when the block has none). The
// block pool stores it to confirm hits.
func (c *Chain) ExtraFingerprint(i int) uint64 { return c.extraFP[i] }

// Parent returns the 64-bit parent hash of block i: the root for block 0.
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
//
// For vLLM schemes one call is one run of vLLM's request block hasher, which matters
// for multimodal items (see VLLM): call it with the whole prompt first, then after
// each append of generated tokens.
func (c *Chain) Extend(tokens []int32) int {
	if c.s.v != nil {
		return c.extendVLLM(tokens)
	}
	bs := c.s.blockSize
	ex := &c.extras
	seeded := c.s.seeded && ex.Adapter == "" && !ex.hasEmbeds() // else every block has extra keys
	for i := len(c.hashes); (i+1)*bs <= len(tokens); i++ {
		if seeded && (i > 0 || ex.CacheSalt == "") && !ex.overlapsMM(i*bs, (i+1)*bs) {
			var b []byte
			b, c.scratch = tokenBytes(tokens[i*bs:(i+1)*bs], c.scratch)
			c.hashes = append(c.hashes, Hash(xxh3.HashSeed(b, uint64(c.Parent(i)))))
			c.extraFP = append(c.extraFP, 0)
			continue
		}
		var extraStart int
		c.scratch, extraStart = encodeBlock(c.scratch[:0], c.Parent(i), tokens[i*bs:(i+1)*bs], &c.extras, i, bs)
		c.hashes = append(c.hashes, c.s.hasher.Sum(c.scratch))
		c.extraFP = append(c.extraFP, fingerprint(c.scratch[extraStart:], extraStart < len(c.scratch)))
	}
	return len(c.hashes)
}

func (c *Chain) extendVLLM(tokens []int32) int {
	v, bs := c.s.v, c.s.blockSize
	start := len(c.hashes)
	cursor := 0
	if start > 0 {
		cursor = -1 // vLLM: a block completed later only scans the last item
	}
	for i := start; (i+1)*bs <= len(tokens); i++ {
		lo, hi := i*bs, (i+1)*bs
		parent := v.root
		if i > 0 {
			parent = c.digests[(i-1)*v.size : i*v.size]
		}
		if len(c.extras.MM) > 0 {
			c.mmCursor = append(c.mmCursor, int32(cursor))
		}
		c.sel, cursor = selectMM(c.sel[:0], c.extras.MM, lo, hi, cursor)
		var extraStart int
		c.scratch, extraStart = v.encodeBlock(c.scratch[:0], &c.pk, parent, tokens[lo:hi], &c.extras, c.sel, lo)
		if c.trace != nil {
			c.trace(i, c.scratch)
		}
		c.digests = v.sum(c.digests, c.scratch)
		c.hashes = append(c.hashes, v.hash64(c.digests[i*v.size:]))
		hasExtras := numExtraKeys(&c.extras, c.sel, lo) > 0
		c.extraFP = append(c.extraFP, fingerprint(c.scratch[extraStart:], hasExtras))
	}
	return len(c.hashes)
}

// fingerprint hashes the encoded extra keys with a fixed function; never 0 when the
// block has extra keys, 0 when it has none.
func fingerprint(extra []byte, has bool) uint64 {
	if !has {
		return 0
	}
	return xxhash.Sum64(extra) | 1
}

// Truncate keeps only the first n block hashes (after tokens were removed).
func (c *Chain) Truncate(n int) {
	if n < len(c.hashes) {
		c.hashes = c.hashes[:n]
		c.extraFP = c.extraFP[:n]
		if c.s.v != nil {
			c.digests = c.digests[:n*c.s.v.size]
		}
		if len(c.mmCursor) > n {
			c.mmCursor = c.mmCursor[:n]
		}
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
	c.digests = append(c.digests[:0], o.digests...)
	c.mmCursor = append(c.mmCursor[:0], o.mmCursor...)
}

// Grow makes room for n more block hashes without reallocating.
func (c *Chain) Grow(n int) {
	c.hashes = slices.Grow(c.hashes, n)
	c.extraFP = slices.Grow(c.extraFP, n)
	if c.s != nil && c.s.v != nil {
		c.digests = slices.Grow(c.digests, n*c.s.v.size)
	}
}

// SetExtras replaces the extra keys and empties the chain (buffers are kept).
func (c *Chain) SetExtras(s *Scheme, e Extras) {
	c.s = s
	c.extras = e
	c.hashes, c.extraFP, c.digests, c.mmCursor = c.hashes[:0], c.extraFP[:0], c.digests[:0], c.mmCursor[:0]
}

// checkInvariants verifies the invariants stated on Chain's fields.
func (c *Chain) checkInvariants() error {
	if len(c.extraFP) != len(c.hashes) {
		return fmt.Errorf("%d fingerprints for %d hashes", len(c.extraFP), len(c.hashes))
	}
	if keep := c.s.v != nil && len(c.extras.MM) > 0; keep && len(c.mmCursor) != len(c.hashes) || !keep && len(c.mmCursor) != 0 {
		return fmt.Errorf("%d multimodal cursors for %d hashes", len(c.mmCursor), len(c.hashes))
	}
	if c.s.v == nil {
		if len(c.digests) != 0 {
			return fmt.Errorf("%d digest bytes in a non-vLLM chain", len(c.digests))
		}
		return nil
	}
	if k := c.s.v.size; len(c.digests) != len(c.hashes)*k {
		return fmt.Errorf("%d digest bytes for %d hashes of %d bytes", len(c.digests), len(c.hashes), k)
	}
	for i, h := range c.hashes {
		if d := c.AppendDigest(nil, i); Hash(binary.BigEndian.Uint64(d[len(d)-8:])) != h {
			return fmt.Errorf("block %d: hash %x is not its digest's last 8 bytes %x", i, h, d)
		}
	}
	return nil
}
