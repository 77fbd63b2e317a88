package attention

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// mapHuge maps n zeroed bytes (rounded up to whole huge pages) and asks for huge
// pages; nil if the mapping fails. A refused madvise keeps the mapping (4 KiB pages).
func mapHuge(n int) []byte {
	size := (n + hugeArenaMin - 1) / hugeArenaMin * hugeArenaMin
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(mem, syscall.MADV_HUGEPAGE)
	return mem[:n]
}

func unmapHuge(mem []byte) { _ = syscall.Munmap(mem[:cap(mem)]) }

// physicalMemory returns the memory this process may use, in bytes: the machine's
// RAM and swap, or its control group's limit when that is lower (a container).
func physicalMemory() (uint64, bool) {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0, false
	}
	unit := uint64(max(si.Unit, 1))
	mem := (uint64(si.Totalram) + uint64(si.Totalswap)) * unit
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(f); err == nil {
			if lim, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && lim > 0 {
				mem = min(mem, lim) // "max" (no limit) does not parse
			}
		}
	}
	return mem, true
}
