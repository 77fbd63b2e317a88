package prefix

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/zeebo/xxh3"
)

// VLLMAlgo names one of vLLM's --prefix-caching-hash-algo values.
type VLLMAlgo string

// vLLM's block hash algorithms. The _cbor ones serialize with canonical CBOR and are
// the ones meant for matching across processes and languages; the others serialize
// with Python's pickle (protocol 5), which vLLM uses by default.
const (
	// SHA256CBOR is vLLM's "sha256_cbor": SHA-256 of canonical CBOR (32-byte
	// digests). The zero VLLM.Algo means this one.
	SHA256CBOR VLLMAlgo = "sha256_cbor"
	// XXHashCBOR is vLLM's "xxhash_cbor": XXH3-128 of the same CBOR bytes (16-byte
	// digests, canonical big-endian).
	XXHashCBOR VLLMAlgo = "xxhash_cbor"
	// SHA256Pickle is vLLM's "sha256", its default: SHA-256 of pickle protocol 5 of
	// the same Python value. See VLLM for the one case pickle cannot be reproduced.
	SHA256Pickle VLLMAlgo = "sha256"
	// XXHashPickle is vLLM's "xxhash": XXH3-128 of the pickle bytes. No golden
	// vector covers this combination; both of its parts are covered separately.
	XXHashPickle VLLMAlgo = "xxhash"
)

// DefaultNoneHashSeed is the string vLLM hashes into its root (NONE_HASH) for the
// SHA-256 algorithms when PYTHONHASHSEED is unset (since vLLM #51875, 2026-08-18).
const DefaultNoneHashSeed = "vllm-none-hash"

// VLLM is a Hasher that reproduces vLLM's prefix-cache block hashes byte for byte.
// A Scheme whose Config.Hasher is a VLLM (or *VLLM) does not use its canonical
// encoding: block i's digest is H(serialize((parent, tokens, extra_keys))), exactly
// as vLLM's hash_block_tokens computes it (vllm/v1/core/kv_cache_utils.py and
// vllm/utils/hashing.py, upstream main at 2f41c894e320, 2026-08-20):
//
//   - parent is the previous block's full digest as a byte string, or NONE_HASH for
//     block 0, NONE_HASH = H(serialize(seed)) with seed the PYTHONHASHSEED string
//     (PythonHashSeed), or DefaultNoneHashSeed when unset;
//   - tokens is the tuple of the block's token ids;
//   - extra_keys is null or the tuple, in this order, of: the LoRA name
//     (Extras.Adapter); one (identifier, item offset - block start) pair per
//     multimodal item vLLM's scan selects (below); the cache salt on block 0 only;
//     the SHA-256 digest of the block's prompt-embedding rows;
//   - serialize is canonical CBOR (cbor2.dumps(canonical=True)) for the _cbor
//     algorithms, pickle protocol 5 for the others; H is SHA-256 or XXH3-128.
//
// Chain.Hash(i) is then vLLM's 64-bit event id (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1,
// the default): the last 8 digest bytes read big-endian. Chain.AppendDigest gives
// the full digest, which is what events carry with that variable set to 0.
//
// Multimodal items: vLLM scans the (offset-sorted) items with a cursor. A block
// takes the items it overlaps (end > offset and start < offset+length; an item
// ending exactly on a block boundary belongs to the earlier block only), stopping at
// the first item that does not end inside it, and takes none at all once the last
// item has ended (so overlapping or nested items can be skipped). The cursor starts at item 0 when the
// chain is empty and at the LAST item when it already holds blocks — vLLM's
// incremental-hashing quirk: a block completed by generated tokens only looks at
// the last item. Each Chain.Extend call is one call of vLLM's request block hasher,
// so to reproduce vLLM call Extend once with the whole prompt, then after each
// append of output tokens (as vLLM's Request does); a chain extended in other
// steps can differ from vLLM for multimodal prompts.
//
// Version notes (vLLM upstream; these hashes follow the commit above):
//   - PYTHONHASHSEED unset: before #51875 (2026-08-18) NONE_HASH was 32 random bytes
//     per process, and for the xxhash algorithms it still is; no other process can
//     match such a vLLM, so New rejects an xxhash VLLM without PythonHashSeed.
//   - Multimodal keys: before #36708 (2026-03-20) the key was the identifier alone
//     and the boundary test was off by one; not reproduced.
//   - LoRA: before #27211 (2025-10) the integer LoRA id was the key; not reproduced.
//   - Before #23673 (2025-09) digests were not chained as raw bytes, and #20511's
//     sha256_cbor_64bit chained 64-bit integers; neither is reproduced.
//   - The default algorithm is "sha256" (pickle); CBOR hashes match only a vLLM
//     started with --prefix-caching-hash-algo sha256_cbor (or xxhash_cbor).
//
// Pickle: pickle output depends on Python object identity (an object met twice is
// written once and then referenced). The encoder assumes that the keys of a block
// are distinct objects, as vLLM builds them (a LoRA name, fresh mm-hash strings, a
// salt), except that equal one-character
// (Latin-1) or empty strings are one object in CPython and are referenced the second
// time. Everything else follows CPython's C pickler, frames included (a frame closes
// at the end of any object once it holds 64 KiB; payloads of 64 KiB or more are
// written outside frames): the golden vectors cover the common shapes, and the tests
// compare large, framed payloads with CPython 3.11's pickle.dumps.
type VLLM struct {
	// Algo is the hash algorithm. Default (zero) SHA256CBOR.
	Algo VLLMAlgo
	// PythonHashSeed is the PYTHONHASHSEED environment variable of the vLLM
	// processes, "" when unset (vLLM then uses DefaultNoneHashSeed for the SHA-256
	// algorithms and a random root for the xxhash ones). A PYTHONHASHSEED set to
	// the empty string cannot be expressed.
	PythonHashSeed string
}

func (v VLLM) vllmConfig() VLLM { return v }

// Sum implements Hasher: the 64-bit form (last 8 bytes, big-endian) of H(data). A
// Scheme does not call it; it hashes vLLM's own serialization of each block.
func (v VLLM) Sum(data []byte) Hash {
	if v.digestSize() == 16 {
		return Hash(xxh3.Hash128(data).Lo)
	}
	sum := sha256.Sum256(data)
	return Hash(binary.BigEndian.Uint64(sum[24:]))
}

func (v VLLM) algo() VLLMAlgo {
	if v.Algo == "" {
		return SHA256CBOR
	}
	return v.Algo
}

func (v VLLM) digestSize() int {
	if a := v.algo(); a == XXHashCBOR || a == XXHashPickle {
		return 16
	}
	return 32
}

// NoneHashSeed returns the seed string vLLM hashes into NONE_HASH, and false when
// vLLM would use a random root (an xxhash algorithm without PYTHONHASHSEED).
func (v VLLM) NoneHashSeed() (string, bool) {
	if v.PythonHashSeed != "" {
		return v.PythonHashSeed, true
	}
	if v.digestSize() == 32 {
		return DefaultNoneHashSeed, true
	}
	return "", false
}

// Validate reports whether vLLM's hashes can be reproduced with v. Errors wrap
// ErrInvalidConfig.
func (v VLLM) Validate() error {
	switch v.algo() {
	case SHA256CBOR, XXHashCBOR, SHA256Pickle, XXHashPickle:
	default:
		return fmt.Errorf("%w: unknown vLLM hash algorithm %q (want sha256_cbor, xxhash_cbor, sha256 or xxhash)", ErrInvalidConfig, v.Algo)
	}
	if _, ok := v.NoneHashSeed(); !ok {
		return fmt.Errorf("%w: vLLM's %s without PYTHONHASHSEED roots every chain in random bytes; set PythonHashSeed to the fleet's PYTHONHASHSEED", ErrInvalidConfig, v.algo())
	}
	return nil
}

// vllmScheme is a validated VLLM hasher, ready to hash blocks.
type vllmScheme struct {
	cfg    VLLM // Algo filled in
	pickle bool // serialize with pickle, else CBOR
	size   int  // digest bytes: 32 (SHA-256) or 16 (XXH3-128)
	root   []byte
}

func newVLLMScheme(v VLLM) (*vllmScheme, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	v.Algo = v.algo()
	s := &vllmScheme{cfg: v, pickle: v.Algo == SHA256Pickle || v.Algo == XXHashPickle, size: v.digestSize()}
	seed, _ := v.NoneHashSeed()
	var buf []byte
	if s.pickle {
		var p pickler
		buf = p.root(nil, seed)
	} else {
		buf = cborText(nil, seed)
	}
	s.root = s.sum(nil, buf)
	return s, nil
}

// sum appends H(data) to dst.
func (s *vllmScheme) sum(dst, data []byte) []byte {
	if s.size == 16 {
		h := xxh3.Hash128(data)
		dst = binary.BigEndian.AppendUint64(dst, h.Hi)
		return binary.BigEndian.AppendUint64(dst, h.Lo)
	}
	d := sha256.Sum256(data)
	return append(dst, d[:]...)
}

// hash64 is vLLM's maybe_convert_block_hash: the digest's last 8 bytes, big-endian.
func (s *vllmScheme) hash64(digest []byte) Hash {
	return Hash(binary.BigEndian.Uint64(digest[len(digest)-8:]))
}
