package attention

import "syscall"

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

// physicalMemory returns the machine's RAM and swap in bytes.
func physicalMemory() (uint64, bool) {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0, false
	}
	unit := uint64(max(si.Unit, 1))
	return (uint64(si.Totalram) + uint64(si.Totalswap)) * unit, true
}
