package attention

import (
	"errors"
	"fmt"
	"math"

	"github.com/pagedkv/pagedkv/block"
)

// Errors returned by the package, wrapped with context; test with errors.Is.
var (
	// ErrInvalidConfig reports a bad Config or Params.
	ErrInvalidConfig = errors.New("attention: invalid config")
	// ErrOutOfRange reports a slot, block id, layer or length out of range.
	ErrOutOfRange = errors.New("attention: out of range")
	// ErrShape reports buffers whose sizes do not match the shapes.
	ErrShape = errors.New("attention: shape mismatch")
)

// Limits a Config is checked against before anything is allocated, so that no
// Config can end the process with the runtime's unrecoverable out-of-memory error.
const (
	// MaxBlockSize bounds Config.BlockSize (blockpool's and paged's limit).
	MaxBlockSize = 1 << 16
	// MaxCacheBytes bounds a cache's K and V arenas together (1 TiB). On Linux a
	// cache is also refused when it is larger than the machine's RAM and swap or
	// its control group's memory limit.
	MaxCacheBytes = 1 << 40
)

// Config is the shape of a KV cache. A zero field means its documented default
// (DefaultConfig): a Config needs only KVHeads, HeadDim and NumBlocks.
type Config struct {
	// Layers is the number of layers (0: 1).
	Layers int
	// KVHeads is the model's number of KV heads, all ranks together (required).
	KVHeads int
	// HeadDim is the elements per head vector (required).
	HeadDim int
	// BlockSize is the tokens per block, at most MaxBlockSize (0: 16, vLLM's
	// default).
	BlockSize int
	// NumBlocks is the number of blocks (required). The cache's bytes,
	// NumBlocks × BytesPerBlock, must not exceed MaxCacheBytes nor, on Linux, the
	// machine's RAM and swap or its control group's memory limit.
	NumBlocks int
	// DType is the stored element type (zero value: Float32).
	DType DType
	// TPSize and TPRank shard the KV heads for tensor parallelism: the cache holds
	// the heads of rank TPRank (0-based) of TPSize ranks; TPSize 0 or 1 holds every
	// head. With TPSize ≤ KVHeads (KVHeads a multiple of TPSize) rank r holds KV
	// heads [r·KVHeads/TPSize, (r+1)·KVHeads/TPSize); with TPSize > KVHeads (a
	// multiple of KVHeads) each KV head is replicated on TPSize/KVHeads ranks and
	// rank r holds head r/(TPSize/KVHeads), as vLLM does. Everything a sharded cache
	// and its kernels take or return (Write's K and V, Decode's and Prefill's q and
	// out) covers the shard's heads only; see KVHeadRange and QHeadRange.
	TPSize, TPRank int
	// DisableHugePages keeps every arena on the Go heap. By default arenas of 2 MiB
	// or more are mapped with huge pages requested on Linux (see HugePageBytes).
	DisableHugePages bool
}

// DefaultConfig returns the defaults a zero field stands for; KVHeads, HeadDim and
// NumBlocks must still be set.
func DefaultConfig() Config {
	return Config{Layers: 1, BlockSize: 16, DType: Float32, TPSize: 1}
}

// withDefaults replaces zero fields by their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Layers == 0 {
		c.Layers = d.Layers
	}
	if c.BlockSize == 0 {
		c.BlockSize = d.BlockSize
	}
	if c.TPSize == 0 {
		c.TPSize = d.TPSize
	}
	return c
}

// validate checks a Config whose defaults are filled in.
func (c Config) validate() error {
	if c.Layers <= 0 || c.KVHeads <= 0 || c.HeadDim <= 0 || c.BlockSize <= 0 || c.NumBlocks <= 0 {
		return fmt.Errorf("%w: KVHeads, HeadDim and NumBlocks are required and no dimension may be negative: %+v", ErrInvalidConfig, c)
	}
	if c.BlockSize > MaxBlockSize {
		return fmt.Errorf("%w: block size %d above MaxBlockSize %d", ErrInvalidConfig, c.BlockSize, MaxBlockSize)
	}
	if c.DType.Size() == 0 {
		return fmt.Errorf("%w: unknown dtype %d", ErrInvalidConfig, int(c.DType))
	}
	if c.TPSize < 1 || c.TPRank < 0 || c.TPRank >= c.TPSize {
		return fmt.Errorf("%w: tensor-parallel rank %d of %d", ErrInvalidConfig, c.TPRank, c.TPSize)
	}
	if c.KVHeads%c.TPSize != 0 && c.TPSize%c.KVHeads != 0 {
		return fmt.Errorf("%w: %d KV heads cannot be sharded over %d ranks (one must divide the other)", ErrInvalidConfig, c.KVHeads, c.TPSize)
	}
	// The cache is 2 × Layers arenas of NumBlocks × heads × BlockSize × HeadDim
	// elements: every size computed from them must fit in an int.
	if !productFits(2, c.Layers, c.NumBlocks, c.LocalKVHeads(), c.BlockSize, c.HeadDim, c.DType.Size()) {
		return fmt.Errorf("%w: %d layers of %d blocks × %d KV heads × %d tokens × %d dims of %v: the size overflows an int",
			ErrInvalidConfig, c.Layers, c.NumBlocks, c.LocalKVHeads(), c.BlockSize, c.HeadDim, c.DType)
	}
	bytes := uint64(c.BytesPerBlock()) * uint64(c.NumBlocks)
	if bytes > MaxCacheBytes {
		return fmt.Errorf("%w: %d blocks of %d bytes make %d bytes of KV, above MaxCacheBytes %d",
			ErrInvalidConfig, c.NumBlocks, c.BytesPerBlock(), bytes, uint64(MaxCacheBytes))
	}
	if mem, ok := physicalMemory(); ok && bytes > mem {
		return fmt.Errorf("%w: %d blocks of %d bytes make %d bytes of KV, more than the %d bytes this process may use (RAM and swap, or its control group's limit)",
			ErrInvalidConfig, c.NumBlocks, c.BytesPerBlock(), bytes, mem)
	}
	return nil
}

// productFits reports whether the product of positive factors fits in an int.
func productFits(factors ...int) bool {
	p := 1
	for _, f := range factors {
		if f > math.MaxInt/p {
			return false
		}
		p *= f
	}
	return true
}

// KVHeadRange returns the model's KV heads this cache holds: [first, first+n).
// Zero fields count as their defaults.
func (c Config) KVHeadRange() (first, n int) {
	c = c.withDefaults()
	if c.TPSize <= c.KVHeads {
		n = c.KVHeads / c.TPSize
		return c.TPRank * n, n
	}
	return c.TPRank / (c.TPSize / c.KVHeads), 1
}

// LocalKVHeads is the number of KV heads this cache holds.
func (c Config) LocalKVHeads() int {
	_, n := c.KVHeadRange()
	return n
}

// QHeadRange returns the model's query heads whose attention this shard computes,
// for a model of qHeads query heads (a multiple of KVHeads and of TPSize):
// [first, first+n), n = qHeads/TPSize.
func (c Config) QHeadRange(qHeads int) (first, n int) {
	c = c.withDefaults()
	n = qHeads / c.TPSize
	return c.TPRank * n, n
}

// BytesPerToken is K and V of every layer and KV head this cache holds for one
// token: 2 × layers × local KV heads × head dim × element size.
func (c Config) BytesPerToken() int {
	c = c.withDefaults()
	return 2 * c.Layers * c.LocalKVHeads() * c.HeadDim * c.DType.Size()
}

// BytesPerBlock is BytesPerToken × BlockSize.
func (c Config) BytesPerBlock() int { return c.BytesPerToken() * c.withDefaults().BlockSize }

// Cache holds keys and values in one arena per layer for K and one for V, addressed by
// block id. Within an arena the layout is [block][kv head][token in block][head dim]:
// one block's tokens of one KV head are contiguous (BlockSize × HeadDim elements), so
// a decode kernel streams them with unit stride, and a block's KV heads are adjacent
// so copying or moving a block is one contiguous copy per layer and arena.
//
// A Cache is not safe for concurrent writes; kernels may read it concurrently.
type Cache struct {
	cfg              Config // defaults filled in
	heads            int    // KV heads held (cfg.LocalKVHeads())
	rowLen, blockLen int    // elements per (block, head) segment and per block
	k32, v32         [][]float32
	k16, v16         [][]uint16
	k8, v8           [][]uint8
	hugeBytes        int // arena bytes mapped with huge pages requested (arena.go)
}

// NewCache allocates a zeroed cache.
func NewCache(cfg Config) (*Cache, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Cache{cfg: cfg, heads: cfg.LocalKVHeads(), rowLen: cfg.BlockSize * cfg.HeadDim}
	c.blockLen = c.rowLen * c.heads
	c.allocArenas(c.blockLen * cfg.NumBlocks)
	return c, nil
}

// Config returns the cache's shape, defaults filled in.
func (c *Cache) Config() Config { return c.cfg }

func (c *Cache) encode(dst int, layer int, k, v []float32) {
	switch c.cfg.DType {
	case Float32:
		copy(c.k32[layer][dst:], k)
		copy(c.v32[layer][dst:], v)
	case Float16:
		encodeSlice(c.k16[layer][dst:], k, ToFloat16)
		encodeSlice(c.v16[layer][dst:], v, ToFloat16)
	case BFloat16:
		encodeSlice(c.k16[layer][dst:], k, ToBFloat16)
		encodeSlice(c.v16[layer][dst:], v, ToBFloat16)
	case FP8E4M3:
		encodeSlice(c.k8[layer][dst:], k, ToFP8)
		encodeSlice(c.v8[layer][dst:], v, ToFP8)
	}
}

func encodeSlice[T any](dst []T, src []float32, f func(float32) T) {
	for i, x := range src {
		dst[i] = f(x)
	}
}

func (c *Cache) decodeElem(arena []float32, a16 []uint16, a8 []uint8, i int) float32 {
	switch c.cfg.DType {
	case Float16:
		return FromFloat16(a16[i])
	case BFloat16:
		return FromBFloat16(a16[i])
	case FP8E4M3:
		return FromFP8(a8[i])
	}
	return arena[i]
}

func (c *Cache) checkLayer(layer int) error {
	if layer < 0 || layer >= c.cfg.Layers {
		return fmt.Errorf("%w: layer %d of %d", ErrOutOfRange, layer, c.cfg.Layers)
	}
	return nil
}

// Write stores the keys and values of new tokens of one layer: token i goes to slot
// slots[i] (= block id × BlockSize + offset), its KV heads' vectors taken from
// k[i×H×HeadDim:] and v likewise, H = LocalKVHeads (the shard's heads, in order).
// All slots are checked before anything is written.
func (c *Cache) Write(layer int, slots []int64, k, v []float32) error {
	if err := c.checkLayer(layer); err != nil {
		return err
	}
	hd := c.heads * c.cfg.HeadDim
	if len(k) != len(slots)*hd || len(v) != len(slots)*hd {
		return fmt.Errorf("%w: %d slots need %d K and V values, got %d and %d", ErrShape, len(slots), len(slots)*hd, len(k), len(v))
	}
	limit := int64(c.cfg.NumBlocks) * int64(c.cfg.BlockSize)
	for _, s := range slots {
		if s < 0 || s >= limit {
			return fmt.Errorf("%w: slot %d not in [0,%d)", ErrOutOfRange, s, limit)
		}
	}
	d, bs := c.cfg.HeadDim, c.cfg.BlockSize
	for i, s := range slots {
		b, off := int(s)/bs, int(s)%bs
		for h := range c.heads {
			dst := b*c.blockLen + h*c.rowLen + off*d
			src := i*hd + h*d
			c.encode(dst, layer, k[src:src+d], v[src:src+d])
		}
	}
	return nil
}

// Read returns the stored (rounded) K and V vectors of one token for one layer and KV
// head (an index among the shard's heads), appended to k and v. For tests and
// debugging.
func (c *Cache) Read(layer, head int, slot int64, k, v []float32) ([]float32, []float32, error) {
	if err := c.checkLayer(layer); err != nil {
		return k, v, err
	}
	if head < 0 || head >= c.heads || slot < 0 || slot >= int64(c.cfg.NumBlocks*c.cfg.BlockSize) {
		return k, v, fmt.Errorf("%w: head %d slot %d", ErrOutOfRange, head, slot)
	}
	b, off := int(slot)/c.cfg.BlockSize, int(slot)%c.cfg.BlockSize
	base := b*c.blockLen + head*c.rowLen + off*c.cfg.HeadDim
	var k32, v32 []float32
	var k16, v16 []uint16
	var k8, v8 []uint8
	switch c.cfg.DType.Size() {
	case 4:
		k32, v32 = c.k32[layer], c.v32[layer]
	case 2:
		k16, v16 = c.k16[layer], c.v16[layer]
	case 1:
		k8, v8 = c.k8[layer], c.v8[layer]
	}
	for i := range c.cfg.HeadDim {
		k = append(k, c.decodeElem(k32, k16, k8, base+i))
		v = append(v, c.decodeElem(v32, v16, v8, base+i))
	}
	return k, v, nil
}

// BlockCopy copies block Src to block Dst (a copy-on-write or a tier move the manager
// asked for). It is block.Copy, the type package paged returns, so a manager's copy list
// is passed to CopyBlocks or MoveBlocks as it is.
type BlockCopy = block.Copy

func (c *Cache) checkBlocks(copies []BlockCopy, dstBlocks int) error {
	for _, cp := range copies {
		if cp.Src < 0 || int(cp.Src) >= c.cfg.NumBlocks || cp.Dst < 0 || int(cp.Dst) >= dstBlocks {
			return fmt.Errorf("%w: block copy %d → %d", ErrOutOfRange, cp.Src, cp.Dst)
		}
	}
	return nil
}

// CopyBlocks performs block copies within the cache, in order, for every layer. Every
// copy must be block.DeviceToDevice (a copy-on-write); a list with host copies goes
// to PerformCopies. All copies are checked before anything is copied.
func (c *Cache) CopyBlocks(copies []BlockCopy) error {
	for _, cp := range copies {
		if cp.Dir != block.DeviceToDevice {
			return fmt.Errorf("%w: copy %d → %d is %v, not within one cache (use PerformCopies)", ErrShape, cp.Src, cp.Dst, cp.Dir)
		}
	}
	return c.MoveBlocks(c, copies)
}

// MoveBlocks copies blocks from c to dst (for example a device tier and a host tier
// of the same shape and element type): block Src of c becomes block Dst of dst, for
// every layer. dst may be c. Every copy must have the same Dir (MoveBlocks does not
// know which cache is which tier; a mixed list goes to PerformCopies). All ids are
// checked first.
func (c *Cache) MoveBlocks(dst *Cache, copies []BlockCopy) error {
	dc := dst.cfg
	if err := c.sameShape(dst); err != nil {
		return err
	}
	for _, cp := range copies {
		if cp.Dir != copies[0].Dir {
			return fmt.Errorf("%w: copy list mixes %v and %v (use PerformCopies)", ErrShape, copies[0].Dir, cp.Dir)
		}
	}
	if err := c.checkBlocks(copies, dc.NumBlocks); err != nil {
		return err
	}
	n := c.blockLen
	for l := range c.cfg.Layers {
		for _, cp := range copies {
			s, d := int(cp.Src)*n, int(cp.Dst)*n
			switch c.cfg.DType.Size() {
			case 4:
				copy(dst.k32[l][d:d+n], c.k32[l][s:s+n])
				copy(dst.v32[l][d:d+n], c.v32[l][s:s+n])
			case 2:
				copy(dst.k16[l][d:d+n], c.k16[l][s:s+n])
				copy(dst.v16[l][d:d+n], c.v16[l][s:s+n])
			case 1:
				copy(dst.k8[l][d:d+n], c.k8[l][s:s+n])
				copy(dst.v8[l][d:d+n], c.v8[l][s:s+n])
			}
		}
	}
	return nil
}
