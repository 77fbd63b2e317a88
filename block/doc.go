// Package block holds the two types every layer that moves KV blocks agrees on: a
// physical block id and a block copy. It is a leaf package (it imports nothing), so
// the allocator (package blockpool), the manager (package paged) and the KV storage
// (package attention) can share one definition without importing each other.
//
// A block table is a []ID in token order: position p of a sequence lives in block
// table[p/blockSize] at offset p%blockSize, and its slot is
// int64(table[p/blockSize])*blockSize + p%blockSize.
//
// The manager decides, the storage performs: when a sequence must write into a block
// that others still read (copy-on-write), when a sequence moves between tiers (swap),
// or when a cached block moves between the device and a host prefix cache (offload,
// onload), the manager returns a list of Copy values and the engine (or package
// attention) copies the KV contents before it writes the step's new tokens:
//
//	copies, _ := m.DecodeStep(ids, tokens, 0, slots, copies[:0]) // []block.Copy
//	_ = cache.PerformCopies(hostCache, copies)                   // in list order, by Dir
//
// # List order
//
// A list is performed in list order, and the lists of successive calls in call order:
// a Copy may read a block that an earlier Copy of the same list wrote, or write a
// block that an earlier Copy read. Each Copy's Dir names the tiers of Src and Dst; a
// list that mixes directions (a manager with a host prefix cache) is performed entry
// by entry, or, as the manager guarantees for every list it returns, all DeviceToHost
// entries first, then all HostToDevice entries, then all DeviceToDevice entries, each
// group in list order.
package block

// ID identifies a physical KV block of one pool (device or host tier): 0..NumBlocks-1.
// It is an int32 so a block table ([]ID) is exactly the []int32 a kernel reads, with
// no conversion. Negative values never name a block.
type ID = int32

// Dir says between which tiers a Copy moves KV. The zero value is DeviceToDevice, so a
// Copy literal without Dir is a copy within the device (copy-on-write).
type Dir uint8

const (
	// DeviceToDevice: Src and Dst are device blocks (copy-on-write, partial-block reuse).
	DeviceToDevice Dir = iota
	// DeviceToHost: Src is a device block, Dst a host block (swap-out, offload).
	DeviceToHost
	// HostToDevice: Src is a host block, Dst a device block (swap-in, onload).
	HostToDevice
)

// String returns "d2d", "d2h" or "h2d".
func (d Dir) String() string {
	switch d {
	case DeviceToDevice:
		return "d2d"
	case DeviceToHost:
		return "d2h"
	case HostToDevice:
		return "h2d"
	}
	b := []byte("Dir(000)")
	b[4], b[5], b[6] = '0'+byte(d/100), '0'+byte(d/10%10), '0'+byte(d%10)
	return string(b)
}

// Copy asks the engine to copy the whole KV contents (every layer, K and V) of block
// Src into block Dst; Dir says which tiers Src and Dst belong to (ids are relative to
// their tier's pool).
type Copy struct {
	Src, Dst ID
	Dir      Dir
}
