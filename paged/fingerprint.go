package paged

import (
	"unsafe"

	"github.com/pagedkv/pagedkv/prefix"
	"github.com/zeebo/xxh3"
)

// Prefix fingerprints confirm the hits of windowed groups.
//
// A full-attention group confirms a hit on block j by the identity of the block
// before it (blockpool.Key.Parent), walking the chain from block 0: exact, whatever
// the Hasher. A windowed group cannot walk from block 0: the blocks before its window
// were released and may be evicted long before the blocks a hit needs. Its blocks
// are therefore cached with Parent = the fingerprint of the whole prefix before them
// and identity = the fingerprint of the prefix they end, where
//
//	fp(j) = XXH3(tokens of block j, seed = mix(fp(j−1), extra-key fingerprint of j))
//
// computed by the manager with a fixed function, independent of Config.Hasher (so a
// weak or colliding Hasher still costs only misses). A wrong hit needs two different
// prefixes with equal 64-bit XXH3 fingerprints and equal last-block tokens and
// extra keys. With one of package prefix's own hashers (XXH3, XXHash, VLLM), whose
// chained 64-bit hash is such a fingerprint already, the chain's hash serves as
// fp(j) and nothing more is hashed (Manager.ownFps is false). Fingerprint
// identities have the top bit set; the manager's counter identities (newIdent)
// never reach it.

// fpTop marks a fingerprint identity.
const fpTop = 1 << 63

// fpRoot seeds block 0's fingerprint.
const fpRoot = 0x243F_6A88_85A3_08D3

// fpIdent returns the identity of block j of chain c with fingerprints fps (unused
// unless ownFps): the Parent of block j+1. Block −1 (the parent of block 0) is 0.
func (m *Manager) fpIdent(c *prefix.Chain, fps []uint64, j int) uint64 {
	switch {
	case j < 0:
		return 0
	case m.ownFps:
		return fps[j] | fpTop
	}
	return uint64(c.Hash(j)) | fpTop
}

// trustedHasher reports whether h is one of package prefix's hashers, whose chained
// hash is a 64-bit fingerprint of the whole prefix.
func trustedHasher(h prefix.Hasher) bool {
	switch h.(type) {
	case prefix.XXH3, prefix.XXHash, prefix.VLLM:
		return true
	}
	return false
}

// extendFingerprints appends the fingerprints of c's blocks beyond len(fps) (tokens
// are the chain's tokens) and returns fps.
func extendFingerprints(fps []uint64, c *prefix.Chain, tokens []int32, bs int) []uint64 {
	for j := len(fps); j < c.Len(); j++ {
		prev := uint64(fpRoot)
		if j > 0 {
			prev = fps[j-1]
		}
		seed := (prev ^ c.ExtraFingerprint(j)) * 0x9E37_79B9_7F4A_7C15
		blk := tokens[j*bs : (j+1)*bs]
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(blk))), len(blk)*4)
		fps = append(fps, xxh3.HashSeed(b, seed))
	}
	return fps
}
