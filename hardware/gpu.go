package hardware

import (
	"fmt"
	"math"
)

// GiB is 2^30 bytes.
const GiB = 1 << 30

// GPU is one accelerator: memory, HBM bandwidth and dense 16-bit peak compute.
type GPU struct {
	Name      string
	MemBytes  float64
	Bandwidth float64 // bytes/s
	PeakFLOPs float64 // FLOP/s, dense fp16/bf16
}

// gpus are the built-in accelerators (vendor data sheets; SXM parts).
var gpus = map[string]GPU{
	"a100-40":  {Name: "A100-40GB", MemBytes: 40 * GiB, Bandwidth: 1555e9, PeakFLOPs: 312e12},
	"a100-80":  {Name: "A100-80GB", MemBytes: 80 * GiB, Bandwidth: 2039e9, PeakFLOPs: 312e12},
	"h100-80":  {Name: "H100-80GB", MemBytes: 80 * GiB, Bandwidth: 3350e9, PeakFLOPs: 989e12},
	"h200-141": {Name: "H200-141GB", MemBytes: 141e9, Bandwidth: 4800e9, PeakFLOPs: 989e12},
}

// LookupGPU returns the built-in GPU with that key (see GPUNames), or ErrUnknown.
func LookupGPU(name string) (GPU, error) {
	if g, ok := gpus[name]; ok {
		return g, nil
	}
	return GPU{}, fmt.Errorf("%w: GPU %q (want one of %v)", ErrUnknown, name, GPUNames())
}

// GPUNames returns the built-in GPUs' keys, sorted.
func GPUNames() []string { return sortedKeys(gpus) }

// Validate checks that memory, bandwidth and compute are positive and finite.
func (g GPU) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"MemBytes", g.MemBytes}, {"Bandwidth", g.Bandwidth}, {"PeakFLOPs", g.PeakFLOPs}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%w: GPU %q: %s %v must be positive and finite", ErrInvalid, g.Name, f.name, f.v)
		}
	}
	return nil
}
