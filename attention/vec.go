package attention

import "math"

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

// Polynomial exp for the softmax weights: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a
// degree-6 Taylor polynomial (relative error < 2e-7), 2^n through the exponent bits.
// Inputs are score − running max, so x ≤ 0; below −87 the weight is 0.
const (
	expLog2e = 1.44269504088896341
	expLn2Hi = 0.693359375
	expLn2Lo = -2.12194440e-4
	expMin   = -87.0
)

func fastExp(x float32) float32 {
	if x < expMin {
		return 0
	}
	n := float32(int32(x*expLog2e - 0.5)) // round to nearest for x ≤ 0
	r := x - n*expLn2Hi - n*expLn2Lo
	p := ((((((1.0/720)*r+1.0/120)*r+1.0/24)*r+1.0/6)*r+0.5)*r+1)*r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// expShiftGo replaces s[i] by e^(s[i]−m) and returns their sum.
func expShiftGo(s []float32, m float32) float32 {
	var sum float32
	for i, x := range s {
		e := fastExp(x - m)
		s[i] = e
		sum += e
	}
	return sum
}

// accumRowsGo adds Σ_t w[j][t]·v[t] (t < n) to acc rows j; w row j is ws[j*stride:].
func accumRowsGo(acc []float32, rows int, ws []float32, stride int, v []float32, n, d int) {
	for t := range n {
		vrow := v[t*d : (t+1)*d]
		for j := range rows {
			if e := ws[j*stride+t]; e != 0 {
				axpy(acc[j*d:(j+1)*d], e, vrow)
			}
		}
	}
}

// scoreRowsGo sets ws[j*stride+t] = scale · q[j]·k[t] for the n key rows of kseg.
func scoreRowsGo(q [][]float32, kseg []float32, n, d int, scale float32, ws []float32, stride int) {
	for t := range n {
		k := kseg[t*d : (t+1)*d]
		for j, qj := range q {
			ws[j*stride+t] = dot(qj, k) * scale
		}
	}
}

// maxOf returns the largest element (−Inf for none).
func maxOf(s []float32) float32 {
	m := float32(math.Inf(-1))
	for _, x := range s {
		if x > m {
			m = x
		}
	}
	return m
}

// scoreRowsSegs scores rows against consecutive key segments (columns continue from
// one segment to the next).
func scoreRowsSegs(q [][]float32, segs [][]float32, d int, scale float32, ws []float32, stride int) {
	col := 0
	for _, s := range segs {
		n := len(s) / d
		scoreRows(q, s, n, d, scale, ws[col:], stride)
		col += n
	}
}

// accumRowsSegsGo accumulates consecutive value segments (columns continue).
func accumRowsSegsGo(acc []float32, rows int, ws []float32, stride int, segs [][]float32, d int) {
	col := 0
	for _, s := range segs {
		n := len(s) / d
		accumRowsGo(acc, rows, ws[col:], stride, s, n, d)
		col += n
	}
}
