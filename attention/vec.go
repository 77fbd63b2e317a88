package attention

// Portable vector primitives. The goexperiment.simd build provides AVX-512/AVX2
// versions of the hot ones (vec_simd.go); these are the reference and the fallback.

// dotGo returns Σ a[i]·b[i] over len(a) (b at least as long).
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyGo does y[i] += w·x[i] over len(y).
func axpyGo(y []float32, w float32, x []float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		y[i] += w * x[i]
		y[i+1] += w * x[i+1]
		y[i+2] += w * x[i+2]
		y[i+3] += w * x[i+3]
	}
	for ; i < len(y); i++ {
		y[i] += w * x[i]
	}
}

// scaleGo does y[i] *= w.
func scaleGo(y []float32, w float32) {
	for i := range y {
		y[i] *= w
	}
}

// Widening of stored elements into float32 scratch.

func widenF16Go(dst []float32, src []uint16) {
	src = src[:len(dst)]
	for i, h := range src {
		dst[i] = FromFloat16(h)
	}
}

func widenBF16Go(dst []float32, src []uint16) {
	src = src[:len(dst)]
	for i, h := range src {
		dst[i] = FromBFloat16(h)
	}
}

func widenFP8Go(dst []float32, src []uint8) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = FromFP8(v)
	}
}
