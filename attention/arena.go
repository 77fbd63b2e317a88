package attention

import (
	"runtime"
	"unsafe"
)

// Arenas. K and V arenas of at least hugeArenaMin bytes are mapped outside the Go heap
// with huge pages requested (Linux: mmap + madvise(MADV_HUGEPAGE), see
// arena_linux.go), so the kernels' random block reads miss the TLB less; they are
// unmapped when the Cache becomes unreachable. Elsewhere, when the mapping fails or
// with Config.DisableHugePages, arenas are ordinary Go slices.

// hugeArenaMin is the smallest arena worth a mapping of its own (one huge page).
const hugeArenaMin = 2 << 20

// allocArenas allocates the cache's K and V arenas of n elements each, for every layer.
func (c *Cache) allocArenas(n int) {
	size := c.cfg.DType.Size()
	var mapped [][]byte
	alloc := func() unsafe.Pointer {
		if !c.cfg.DisableHugePages && n*size >= hugeArenaMin {
			if mem := mapHuge(n * size); mem != nil {
				mapped = append(mapped, mem)
				return unsafe.Pointer(&mem[0])
			}
		}
		return nil
	}
	for range c.cfg.Layers {
		switch size {
		case 4:
			c.k32, c.v32 = append(c.k32, arena[float32](alloc(), n)), append(c.v32, arena[float32](alloc(), n))
		case 2:
			c.k16, c.v16 = append(c.k16, arena[uint16](alloc(), n)), append(c.v16, arena[uint16](alloc(), n))
		case 1:
			c.k8, c.v8 = append(c.k8, arena[uint8](alloc(), n)), append(c.v8, arena[uint8](alloc(), n))
		}
	}
	if len(mapped) > 0 {
		c.hugeBytes = len(mapped) * n * size
		runtime.AddCleanup(c, func(m [][]byte) {
			for _, mem := range m {
				unmapHuge(mem)
			}
		}, mapped)
	}
}

// arena returns n elements at p (a mapping of at least n elements), or a Go slice
// when p is nil.
func arena[T float32 | uint16 | uint8](p unsafe.Pointer, n int) []T {
	if p == nil {
		return make([]T, n)
	}
	return unsafe.Slice((*T)(p), n)
}

// HugePageBytes returns the bytes of arenas mapped with huge pages requested (0 when
// every arena is an ordinary Go slice). Whether the OS grants huge pages is its
// choice (on Linux, AnonHugePages in /proc/self/smaps).
func (c *Cache) HugePageBytes() int { return c.hugeBytes }
