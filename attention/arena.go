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

// arenas allocates the cache's arenas of n elements each.
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
		for _, kv := range []int{0, 1} {
			p := alloc()
			switch size {
			case 4:
				a := make32(p, n)
				if kv == 0 {
					c.k32 = append(c.k32, a)
				} else {
					c.v32 = append(c.v32, a)
				}
			case 2:
				a := make16(p, n)
				if kv == 0 {
					c.k16 = append(c.k16, a)
				} else {
					c.v16 = append(c.v16, a)
				}
			case 1:
				a := make8(p, n)
				if kv == 0 {
					c.k8 = append(c.k8, a)
				} else {
					c.v8 = append(c.v8, a)
				}
			}
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

func make32(p unsafe.Pointer, n int) []float32 {
	if p == nil {
		return make([]float32, n)
	}
	return unsafe.Slice((*float32)(p), n)
}

func make16(p unsafe.Pointer, n int) []uint16 {
	if p == nil {
		return make([]uint16, n)
	}
	return unsafe.Slice((*uint16)(p), n)
}

func make8(p unsafe.Pointer, n int) []uint8 {
	if p == nil {
		return make([]uint8, n)
	}
	return unsafe.Slice((*uint8)(p), n)
}

// HugePageBytes returns the bytes of arenas mapped with huge pages requested (0 when
// every arena is an ordinary Go slice). Whether the OS grants huge pages is its
// choice (on Linux, AnonHugePages in /proc/self/smaps).
func (c *Cache) HugePageBytes() int { return c.hugeBytes }
