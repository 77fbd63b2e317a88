//go:build !amd64

package attention

// No assembly kernels on this architecture: the fast path is never selected.

var hasAVX2 = false

func asmScore(DType, []float32, kvView, int, int, []float32, prefetch, float32) {
	panic("attention: no assembly kernels on this architecture")
}

func asmAccum(DType, []float32, []float32, kvView, int, int, prefetch) {
	panic("attention: no assembly kernels on this architecture")
}

func asmMax4([]float32, int) [4]float32 { panic("attention: no assembly kernels on this architecture") }

func asmExp4([]float32, int, *[4]float32, float32) [4]float32 {
	panic("attention: no assembly kernels on this architecture")
}
