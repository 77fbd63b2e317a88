//go:build !linux

package attention

func mapHuge(int) []byte { return nil }

func unmapHuge([]byte) {}

// physicalMemory is not known here: only MaxCacheBytes bounds a cache.
func physicalMemory() (uint64, bool) { return 0, false }
