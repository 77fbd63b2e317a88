package attention

import (
	"errors"
	"fmt"
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

// Config is the shape of a KV cache.
type Config struct {
	Layers, KVHeads, HeadDim int
	BlockSize, NumBlocks     int
	DType                    DType
}

func (c Config) validate() error {
	if c.Layers <= 0 || c.KVHeads <= 0 || c.HeadDim <= 0 || c.BlockSize <= 0 || c.NumBlocks <= 0 {
		return fmt.Errorf("%w: every dimension must be positive: %+v", ErrInvalidConfig, c)
	}
	if c.DType.Size() == 0 {
		return fmt.Errorf("%w: unknown dtype %d", ErrInvalidConfig, int(c.DType))
	}
	return nil
}

// BytesPerToken is K and V of every layer and KV head for one token:
// 2 × layers × KV heads × head dim × element size.
func (c Config) BytesPerToken() int {
	return 2 * c.Layers * c.KVHeads * c.HeadDim * c.DType.Size()
}

// BytesPerBlock is BytesPerToken × BlockSize.
func (c Config) BytesPerBlock() int { return c.BytesPerToken() * c.BlockSize }

// Cache holds keys and values in one arena per layer for K and one for V, addressed by
// block id. Within an arena the layout is [block][kv head][token in block][head dim]:
// one block's tokens of one KV head are contiguous (BlockSize × HeadDim elements), so
// a decode kernel streams them with unit stride, and a block's KV heads are adjacent
// so copying or moving a block is one contiguous copy per layer and arena.
//
// A Cache is not safe for concurrent writes; kernels may read it concurrently.
type Cache struct {
	cfg              Config
	rowLen, blockLen int // elements per (block, head) segment and per block
	k32, v32         [][]float32
	k16, v16         [][]uint16
	k8, v8           [][]uint8
}

// NewCache allocates a zeroed cache.
func NewCache(cfg Config) (*Cache, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Cache{cfg: cfg, rowLen: cfg.BlockSize * cfg.HeadDim}
	c.blockLen = c.rowLen * cfg.KVHeads
	n := c.blockLen * cfg.NumBlocks
	for range cfg.Layers {
		switch cfg.DType.Size() {
		case 4:
			c.k32, c.v32 = append(c.k32, make([]float32, n)), append(c.v32, make([]float32, n))
		case 2:
			c.k16, c.v16 = append(c.k16, make([]uint16, n)), append(c.v16, make([]uint16, n))
		case 1:
			c.k8, c.v8 = append(c.k8, make([]uint8, n)), append(c.v8, make([]uint8, n))
		}
	}
	return c, nil
}

// Config returns the cache's shape.
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
// k[i×KVHeads×HeadDim:] and v likewise. All slots are checked before anything is
// written.
func (c *Cache) Write(layer int, slots []int64, k, v []float32) error {
	if err := c.checkLayer(layer); err != nil {
		return err
	}
	hd := c.cfg.KVHeads * c.cfg.HeadDim
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
		for h := range c.cfg.KVHeads {
			dst := b*c.blockLen + h*c.rowLen + off*d
			src := i*hd + h*d
			c.encode(dst, layer, k[src:src+d], v[src:src+d])
		}
	}
	return nil
}

// Read returns the stored (rounded) K and V vectors of one token for one layer and KV
// head, appended to k and v. For tests and debugging.
func (c *Cache) Read(layer, head int, slot int64, k, v []float32) ([]float32, []float32, error) {
	if err := c.checkLayer(layer); err != nil {
		return k, v, err
	}
	if head < 0 || head >= c.cfg.KVHeads || slot < 0 || slot >= int64(c.cfg.NumBlocks*c.cfg.BlockSize) {
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

// BlockCopy copies block Src to block Dst (a copy-on-write the manager asked for).
type BlockCopy struct {
	Src, Dst int32
}

func (c *Cache) checkBlocks(copies []BlockCopy, dstBlocks int) error {
	for _, cp := range copies {
		if cp.Src < 0 || int(cp.Src) >= c.cfg.NumBlocks || cp.Dst < 0 || int(cp.Dst) >= dstBlocks {
			return fmt.Errorf("%w: block copy %d → %d", ErrOutOfRange, cp.Src, cp.Dst)
		}
	}
	return nil
}

// CopyBlocks performs block copies within the cache, in order, for every layer. All
// ids are checked before anything is copied.
func (c *Cache) CopyBlocks(copies []BlockCopy) error {
	return c.MoveBlocks(c, copies)
}

// MoveBlocks copies blocks from c to dst (for example a device tier and a host tier
// of the same shape and element type): block Src of c becomes block Dst of dst, for
// every layer. dst may be c. All ids are checked first.
func (c *Cache) MoveBlocks(dst *Cache, copies []BlockCopy) error {
	dc := dst.cfg
	if dc.Layers != c.cfg.Layers || dc.KVHeads != c.cfg.KVHeads || dc.HeadDim != c.cfg.HeadDim ||
		dc.BlockSize != c.cfg.BlockSize || dc.DType != c.cfg.DType {
		return fmt.Errorf("%w: moving blocks between %+v and %+v", ErrShape, c.cfg, dc)
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
