package attention

import (
	"fmt"
	"os"
	"sync/atomic"
)

// Kernel paths: which code runs the inner loops of Decode and Prefill.
//
//   - "avx2": hand-written Go assembly (score_amd64.s, accum_amd64.s,
//     softmax_amd64.s) using AVX2, FMA and F16C, picked automatically on amd64
//     CPUs that have them, for head dims that are multiples of 16. It reads 16- and 8-bit elements straight from the arenas (no widened
//     scratch), scores 2 keys × 4 query rows per pass and prefetches the next
//     segments into L2.
//   - "portable": Go (with simd/archsimd AVX-512 primitives when built with
//     GOEXPERIMENT=simd on a CPU that has AVX-512). Always available; also used by
//     the avx2 path for head dims it does not cover.
//
// The paths agree within float32 accumulation error, not bit for bit (they sum in
// different orders and use different exp approximations, each with relative error
// below 2e-7); the tests bound the difference at 1e-4 on outputs of order 1.
//
// The environment variable PAGEDKV_ATTN_PATH (auto, avx2, portable; "generic" is
// an alias of portable) sets the path at start-up, so CI can run the tests on each.
const envPath = "PAGEDKV_ATTN_PATH"

type kernelPath int32

const (
	pathPortable kernelPath = iota
	pathAVX2
)

var (
	activePath atomic.Int32
	// envPathErr records a PAGEDKV_ATTN_PATH that could not be honoured (tests fail
	// on it, so a CI run never silently tests another path).
	envPathErr error
)

func init() {
	v := os.Getenv(envPath)
	if v == "" {
		v = "auto"
	}
	if err := SetPath(v); err != nil {
		envPathErr = fmt.Errorf("%s=%q: %w", envPath, v, err)
		_ = SetPath("auto")
	}
}

// SetPath selects the kernel path for every Kernel call that starts afterwards:
// "auto" (the fastest this CPU supports), "avx2" or "portable" (alias "generic").
// It fails with ErrInvalidConfig for an unknown name or a path this CPU cannot run.
// Meant for benchmarks and tests; do not call it while kernels are running if the
// results of those calls must come from one path.
func SetPath(name string) error {
	switch name {
	case "auto":
		if hasAVX2 {
			activePath.Store(int32(pathAVX2))
		} else {
			activePath.Store(int32(pathPortable))
		}
	case "avx2":
		if !hasAVX2 {
			return fmt.Errorf("%w: path avx2: this CPU lacks AVX2, FMA or F16C", ErrInvalidConfig)
		}
		activePath.Store(int32(pathAVX2))
	case "portable", "generic":
		activePath.Store(int32(pathPortable))
	default:
		return fmt.Errorf("%w: unknown kernel path %q (auto, avx2, portable)", ErrInvalidConfig, name)
	}
	return nil
}

// Path returns the selected kernel path: "avx2" or "portable".
func Path() string {
	if kernelPath(activePath.Load()) == pathAVX2 {
		return "avx2"
	}
	return "portable"
}

// Paths returns the paths this CPU can run, portable first.
func Paths() []string {
	if hasAVX2 {
		return []string{"portable", "avx2"}
	}
	return []string{"portable"}
}

// Implementation describes the code the kernels use, for reports.
func Implementation() string {
	if kernelPath(activePath.Load()) == pathAVX2 {
		return "avx2 assembly (head dims that are multiples of 16; " + portableImpl + " otherwise)"
	}
	return portableImpl
}
