//go:build !linux

package attention

func mapHuge(int) []byte { return nil }

func unmapHuge([]byte) {}
