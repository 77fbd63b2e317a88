package attention

import (
	"fmt"

	"github.com/pagedkv/pagedkv/block"
)

// PerformCopies performs a manager's copy list between the device cache c and the host
// cache host (nil when the manager has no host tier), entry by entry in list order,
// each in the direction its Dir names: DeviceToDevice within c, DeviceToHost from c to
// host, HostToDevice from host to c. This is the one call an engine needs for every
// list paged returns (copy-on-write, swap, host prefix-cache offload and onload).
//
// All or nothing: every entry is checked (direction, a host cache for host entries,
// block ids in range, matching shapes) before anything is copied.
func (c *Cache) PerformCopies(host *Cache, copies []BlockCopy) error {
	if host != nil && host != c {
		if err := c.sameShape(host); err != nil {
			return err
		}
	}
	for _, cp := range copies {
		srcN, dstN := c.cfg.NumBlocks, c.cfg.NumBlocks
		switch cp.Dir {
		case block.DeviceToDevice:
		case block.DeviceToHost, block.HostToDevice:
			if host == nil {
				return fmt.Errorf("%w: %v copy %d → %d without a host cache", ErrShape, cp.Dir, cp.Src, cp.Dst)
			}
			if cp.Dir == block.DeviceToHost {
				dstN = host.cfg.NumBlocks
			} else {
				srcN = host.cfg.NumBlocks
			}
		default:
			return fmt.Errorf("%w: copy %d → %d has unknown direction %v", ErrOutOfRange, cp.Src, cp.Dst, cp.Dir)
		}
		if cp.Src < 0 || int(cp.Src) >= srcN || cp.Dst < 0 || int(cp.Dst) >= dstN {
			return fmt.Errorf("%w: %v block copy %d → %d", ErrOutOfRange, cp.Dir, cp.Src, cp.Dst)
		}
	}
	for i := range copies {
		src, dst := c, c
		switch copies[i].Dir {
		case block.DeviceToHost:
			dst = host
		case block.HostToDevice:
			src = host
		}
		if err := src.MoveBlocks(dst, copies[i:i+1]); err != nil {
			panic("attention: a checked copy failed: " + err.Error())
		}
	}
	return nil
}

// sameShape reports whether o holds blocks of c's shape and element type.
func (c *Cache) sameShape(o *Cache) error {
	dc := o.cfg
	if dc.Layers != c.cfg.Layers || dc.KVHeads != c.cfg.KVHeads || dc.HeadDim != c.cfg.HeadDim ||
		dc.BlockSize != c.cfg.BlockSize || dc.DType != c.cfg.DType || dc.TPSize != c.cfg.TPSize || dc.TPRank != c.cfg.TPRank {
		return fmt.Errorf("%w: moving blocks between %+v and %+v", ErrShape, c.cfg, dc)
	}
	return nil
}
