package prefix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Hash is a block's chained content hash.
type Hash uint64

// Hasher turns the canonical encoding of one block (parent hash, tokens, extra keys)
// into a Hash. Implementations must be deterministic and safe for concurrent use.
type Hasher interface {
	Sum(data []byte) Hash
}

// XXHash is the default Hasher: 64-bit xxHash (github.com/cespare/xxhash/v2). It is
// fast and well distributed but not cryptographic: a tenant who can choose tokens could
// in principle craft collisions. A collision costs only a cache miss, never a wrong
// read, because the block pool confirms every hit against the stored tokens, parent
// and extra keys.
type XXHash struct{}

// Sum implements Hasher.
func (XXHash) Sum(data []byte) Hash { return Hash(xxhash.Sum64(data)) }

// Errors returned by this package.
var (
	// ErrInvalidConfig reports a bad Config.
	ErrInvalidConfig = errors.New("prefix: invalid config")
	// ErrInvalidExtras reports bad extra keys (unsorted or negative multimodal offsets).
	ErrInvalidExtras = errors.New("prefix: invalid extra keys")
)

// Config configures a hashing Scheme.
type Config struct {
	// BlockSize is the number of tokens per block; must be > 0. Default 16.
	BlockSize int
	// Hasher hashes blocks. Default XXHash{}.
	Hasher Hasher
	// Seed selects the root hash (the parent of block 0). Hashes are comparable only
	// between schemes with the same Seed and Hasher. Default 0.
	Seed uint64
}

// DefaultConfig returns block size 16, xxHash and seed 0.
func DefaultConfig() Config { return Config{BlockSize: 16, Hasher: XXHash{}} }

// Scheme is a validated hashing configuration. It is immutable and safe for
// concurrent use; the Chains it makes are not.
type Scheme struct {
	blockSize int
	hasher    Hasher
	root      Hash
}

// New validates cfg and returns a Scheme. A nil Hasher means XXHash{}.
func New(cfg Config) (*Scheme, error) {
	if cfg.BlockSize <= 0 {
		return nil, fmt.Errorf("%w: block size %d must be positive", ErrInvalidConfig, cfg.BlockSize)
	}
	if cfg.Hasher == nil {
		cfg.Hasher = XXHash{}
	}
	var seed [16]byte
	copy(seed[:8], "pagedkv\x00")
	binary.LittleEndian.PutUint64(seed[8:], cfg.Seed)
	return &Scheme{blockSize: cfg.BlockSize, hasher: cfg.Hasher, root: cfg.Hasher.Sum(seed[:])}, nil
}

// BlockSize returns the tokens per block.
func (s *Scheme) BlockSize() int { return s.blockSize }

// Root returns the parent hash of every sequence's block 0.
func (s *Scheme) Root() Hash { return s.root }

// littleEndian reports whether int32 values are stored little endian in memory, so a
// token slice's bytes are already the canonical encoding.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Extra-key tags in the canonical block encoding.
const (
	tagAdapter = 'L'
	tagMM      = 'M'
	tagSalt    = 'S'
)

// encodeBlock appends the canonical encoding of one block to buf and returns it, with
// the offset at which the extra-key section starts:
//
//	parent   uint64 little endian
//	n        uint32 little endian, number of tokens
//	tokens   n × int32 little endian
//	extras   zero or more of: 'L' len(uint32) adapter name
//	                          'M' len(uint32) item id, offset-from-block-start (int64)
//	                          'S' len(uint32) salt (block 0 only)
func encodeBlock(buf []byte, parent Hash, tokens []int32, ex *Extras, blockIdx, blockSize int) ([]byte, int) {
	buf = binary.LittleEndian.AppendUint64(buf, uint64(parent))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(tokens)))
	if littleEndian && len(tokens) > 0 {
		// Same bytes as the loop below, copied in one move.
		buf = append(buf, unsafe.Slice((*byte)(unsafe.Pointer(&tokens[0])), 4*len(tokens))...)
	} else {
		for _, t := range tokens {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(t))
		}
	}
	extraStart := len(buf)
	if ex.Adapter != "" {
		buf = appendString(append(buf, tagAdapter), ex.Adapter)
	}
	start, end := blockIdx*blockSize, (blockIdx+1)*blockSize
	for _, it := range ex.MM {
		if it.Offset >= end {
			break
		}
		if it.Offset+it.Length <= start {
			continue
		}
		buf = appendString(append(buf, tagMM), it.ID)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(int64(it.Offset-start)))
	}
	if blockIdx == 0 && ex.CacheSalt != "" {
		buf = appendString(append(buf, tagSalt), ex.CacheSalt)
	}
	return buf, extraStart
}

func appendString(buf []byte, s string) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...)
}
