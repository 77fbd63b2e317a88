package prefix

import (
	"encoding/binary"
	"fmt"
)

// Config configures a hashing Scheme. The zero Config is valid: every zero field
// means its documented default.
type Config struct {
	// BlockSize is the number of tokens per block. Default (0) 16; negative is an
	// error.
	BlockSize int
	// Hasher hashes blocks. Default (nil) XXH3{}. A VLLM hasher makes the Scheme
	// reproduce vLLM's block hashes byte for byte (see VLLM).
	Hasher Hasher
	// Seed selects the root hash (the parent of block 0) of pagedkv's own hashing.
	// Hashes are comparable only between schemes with the same Seed and Hasher.
	// Default 0. It must stay 0 with a VLLM hasher, whose root comes from its
	// PythonHashSeed.
	Seed uint64
}

// DefaultBlockSize is the block size a zero Config.BlockSize means.
const DefaultBlockSize = 16

// DefaultConfig returns block size 16, XXH3 and seed 0 (the same as Config{}).
func DefaultConfig() Config { return Config{BlockSize: DefaultBlockSize, Hasher: XXH3{}} }

// Scheme is a validated hashing configuration. It is immutable and safe for
// concurrent use; the Chains it makes are not.
type Scheme struct {
	blockSize int
	hasher    Hasher
	root      Hash // 64-bit form of the root; == last 8 bytes of v.root for vLLM schemes
	v         *vllmScheme
	seeded    bool // XXH3: blocks without extra keys hash their tokens seeded by the parent
}

// New validates cfg and returns a Scheme.
func New(cfg Config) (*Scheme, error) {
	switch {
	case cfg.BlockSize < 0:
		return nil, fmt.Errorf("%w: block size %d must be positive", ErrInvalidConfig, cfg.BlockSize)
	case cfg.BlockSize == 0:
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.Hasher == nil {
		cfg.Hasher = XXH3{}
	}
	if p, ok := cfg.Hasher.(*VLLM); ok && p == nil {
		return nil, fmt.Errorf("%w: nil *VLLM hasher", ErrInvalidConfig)
	}
	s := &Scheme{blockSize: cfg.BlockSize, hasher: cfg.Hasher}
	if vh, ok := cfg.Hasher.(interface{ vllmConfig() VLLM }); ok {
		if cfg.Seed != 0 {
			return nil, fmt.Errorf("%w: Seed %d is for pagedkv's own hashing; a VLLM hasher takes its root from PythonHashSeed", ErrInvalidConfig, cfg.Seed)
		}
		v, err := newVLLMScheme(vh.vllmConfig())
		if err != nil {
			return nil, err
		}
		s.v = v
		s.root = v.hash64(v.root)
		return s, nil
	}
	_, s.seeded = cfg.Hasher.(XXH3)
	var seed [16]byte
	copy(seed[:8], "pagedkv\x00")
	binary.LittleEndian.PutUint64(seed[8:], cfg.Seed)
	s.root = cfg.Hasher.Sum(seed[:])
	return s, nil
}

// BlockSize returns the tokens per block.
func (s *Scheme) BlockSize() int { return s.blockSize }

// Hasher returns the scheme's Hasher.
func (s *Scheme) Hasher() Hasher { return s.hasher }

// Root returns the 64-bit form of the parent of every sequence's block 0.
func (s *Scheme) Root() Hash { return s.root }

// DigestSize returns the length of a block's full digest: 32 for vLLM's SHA-256
// algorithms, 16 for its XXH3-128 ones, 8 for pagedkv's own Hashers (whose full
// digest is the Hash itself, big-endian).
func (s *Scheme) DigestSize() int {
	if s.v != nil {
		return s.v.size
	}
	return 8
}

// AppendRootDigest appends the root's full digest (vLLM's NONE_HASH for vLLM
// schemes) to dst. Its last 8 bytes, big-endian, are Root().
func (s *Scheme) AppendRootDigest(dst []byte) []byte {
	if s.v != nil {
		return append(dst, s.v.root...)
	}
	return binary.BigEndian.AppendUint64(dst, uint64(s.root))
}

// VLLM reports the vLLM hasher the scheme reproduces, if any.
func (s *Scheme) VLLM() (VLLM, bool) {
	if s.v == nil {
		return VLLM{}, false
	}
	return s.v.cfg, true
}
