package prefix

import (
	"errors"

	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
)

// Hash is a block's chained content hash in its 64-bit form: the value the block
// index is keyed by and the one KV events carry. For vLLM-compatible schemes it is
// the last 8 bytes of the full digest read big-endian (vLLM's event block id); see
// Chain.AppendDigest for the full digest.
type Hash uint64

// Hasher turns the canonical encoding of one block (parent hash, tokens, extra keys)
// into a Hash. Implementations must be deterministic and safe for concurrent use.
//
// A Hasher that is a VLLM value is special: a Scheme built with it encodes blocks
// the way vLLM does and chains full digests (see VLLM).
type Hasher interface {
	Sum(data []byte) Hash
}

// XXH3 is the default Hasher: 64-bit XXH3 (github.com/zeebo/xxh3). Like XXHash it is
// fast and well distributed but not cryptographic. A collision costs only a cache
// miss, never a wrong read, because the block pool confirms every hit against the
// stored tokens, parent and extra keys.
//
// A Scheme with XXH3 hashes a block without extra keys directly: its hash is XXH3-64
// of the block's token ids (int32, little-endian) with the parent's hash as the
// seed, with no copy into the canonical encoding. That is what a prompt lookup is
// bound by (each block's hash needs its parent's, so blocks hash one after another),
// and it makes XXH3 about three times as fast as XXHash there. Blocks with extra
// keys hash the canonical encoding, as with any Hasher.
type XXH3 struct{}

// Sum implements Hasher.
func (XXH3) Sum(data []byte) Hash { return Hash(xxh3.Hash(data)) }

// XXHash is 64-bit xxHash (github.com/cespare/xxhash/v2), pagedkv's default before
// XXH3. Same guarantees as XXH3; kept for deployments that must keep their hashes.
type XXHash struct{}

// Sum implements Hasher.
func (XXHash) Sum(data []byte) Hash { return Hash(xxhash.Sum64(data)) }

// Errors returned by this package.
var (
	// ErrInvalidConfig reports a bad Config (or a bad VLLM hasher in it).
	ErrInvalidConfig = errors.New("prefix: invalid config")
	// ErrInvalidExtras reports bad extra keys (unsorted or negative multimodal
	// offsets, prompt embeddings that are not whole rows).
	ErrInvalidExtras = errors.New("prefix: invalid extra keys")
)
