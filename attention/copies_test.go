package attention

import (
	"errors"
	"testing"

	"github.com/pagedkv/pagedkv/block"
	"github.com/stretchr/testify/require"
)

// tierCaches returns a device and a host cache of 4 blocks × 2 tokens, one head of 4
// dims, where every element of device block b is 10b+1 (K) and −(10b+1) (V), and of
// host block b 100+10b+1 and its negation.
func tierCaches(t *testing.T) (dev, host *Cache) {
	t.Helper()
	cfg := Config{Layers: 2, KVHeads: 1, HeadDim: 4, BlockSize: 2, NumBlocks: 4}
	dev, err := NewCache(cfg)
	require.NoError(t, err)
	host, err = NewCache(cfg)
	require.NoError(t, err)
	for _, c := range []struct {
		c    *Cache
		base float32
	}{{dev, 0}, {host, 100}} {
		for l := range 2 {
			for b := range int64(4) {
				val := c.base + float32(10*b+1)
				k := []float32{val, val, val, val, val, val, val, val}
				v := []float32{-val, -val, -val, -val, -val, -val, -val, -val}
				require.NoError(t, c.c.Write(l, []int64{2 * b, 2*b + 1}, k, v))
			}
		}
	}
	return dev, host
}

// blockValue reads the K value of layer 1, slot 2b+1 of c (every element of a block
// holds the same value in tierCaches).
func blockValue(t *testing.T, c *Cache, b int64) float32 {
	t.Helper()
	k, v, err := c.Read(1, 0, 2*b+1, nil, nil)
	require.NoError(t, err)
	require.Equal(t, -k[0], v[0])
	return k[0]
}

func snapshot(t *testing.T, dev, host *Cache) []float32 {
	var out []float32
	for b := range int64(4) {
		out = append(out, blockValue(t, dev, b), blockValue(t, host, b))
	}
	return out
}

func TestPerformCopiesFollowsDirectionsInOrder(t *testing.T) {
	dev, host := tierCaches(t)
	copies := []BlockCopy{
		{Src: 0, Dst: 1, Dir: block.DeviceToHost},   // host 1 ← device 0 (1)
		{Src: 2, Dst: 3, Dir: block.HostToDevice},   // device 3 ← host 2 (121)
		{Src: 3, Dst: 0, Dir: block.DeviceToDevice}, // device 0 ← device 3, already 121
		{Src: 1, Dst: 2, Dir: block.HostToDevice},   // device 2 ← host 1, already 1
	}
	require.NoError(t, dev.PerformCopies(host, copies))
	require.Equal(t, float32(121), blockValue(t, dev, 0))
	require.Equal(t, float32(11), blockValue(t, dev, 1))
	require.Equal(t, float32(1), blockValue(t, dev, 2))
	require.Equal(t, float32(121), blockValue(t, dev, 3))
	require.Equal(t, float32(1), blockValue(t, host, 1))
	require.Equal(t, float32(121), blockValue(t, host, 2))
}

func TestPerformCopiesRejectsWithoutChange(t *testing.T) {
	dev, host := tierCaches(t)
	before := snapshot(t, dev, host)
	other, err := NewCache(Config{Layers: 2, KVHeads: 1, HeadDim: 8, BlockSize: 2, NumBlocks: 4})
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		host   *Cache
		copies []BlockCopy
		want   error
	}{
		"host copy without a host cache": {nil, []BlockCopy{{Src: 0, Dst: 1}, {Src: 0, Dst: 1, Dir: block.DeviceToHost}}, ErrShape},
		"host id out of range":           {host, []BlockCopy{{Src: 0, Dst: 1}, {Src: 0, Dst: 4, Dir: block.DeviceToHost}}, ErrOutOfRange},
		"device id out of range":         {host, []BlockCopy{{Src: 0, Dst: 1}, {Src: 0, Dst: -1, Dir: block.HostToDevice}}, ErrOutOfRange},
		"unknown direction":              {host, []BlockCopy{{Src: 0, Dst: 1}, {Src: 0, Dst: 1, Dir: 7}}, ErrOutOfRange},
		"host of another shape":          {other, []BlockCopy{{Src: 0, Dst: 1}}, ErrShape},
	} {
		err := dev.PerformCopies(tc.host, tc.copies)
		require.True(t, errors.Is(err, tc.want), "%s: %v", name, err)
		require.Equal(t, before, snapshot(t, dev, host), name)
	}
}

func TestCopyBlocksRefusesHostCopies(t *testing.T) {
	dev, host := tierCaches(t)
	before := snapshot(t, dev, host)
	err := dev.CopyBlocks([]BlockCopy{{Src: 0, Dst: 1}, {Src: 0, Dst: 1, Dir: block.HostToDevice}})
	require.True(t, errors.Is(err, ErrShape), "%v", err)
	err = dev.MoveBlocks(host, []BlockCopy{{Src: 0, Dst: 1, Dir: block.DeviceToHost}, {Src: 2, Dst: 3, Dir: block.HostToDevice}})
	require.True(t, errors.Is(err, ErrShape), "a mixed list: %v", err)
	require.Equal(t, before, snapshot(t, dev, host))
	require.NoError(t, dev.MoveBlocks(host, []BlockCopy{{Src: 3, Dst: 0, Dir: block.DeviceToHost}}))
	require.Equal(t, float32(31), blockValue(t, host, 0))
}
