package attention

import "unsafe"

// The AVX2 kernels of score_amd64.s, accum_amd64.s and softmax_amd64.s (conventions in
// kernels_amd64.h). Callers (fast.go) check every length first; the
// kernels read and write exactly the regions described there.

//go:noescape
func score4F32(q *float32, k *float32, ntok int, d int, out *float32, pf unsafe.Pointer, pfLines int, post float32)

//go:noescape
func score4F16(q *float32, k *uint16, ntok int, d int, out *float32, pf unsafe.Pointer, pfLines int, post float32)

//go:noescape
func score4BF16(q *float32, k *uint16, ntok int, d int, out *float32, pf unsafe.Pointer, pfLines int, post float32)

//go:noescape
func score4FP8(q *float32, k *uint8, ntok int, d int, out *float32, pf unsafe.Pointer, pfLines int, post float32)

//go:noescape
func accum4F32(acc *float32, w *float32, v *float32, ntok int, d int, pf unsafe.Pointer, pfLines int)

//go:noescape
func accum4F16(acc *float32, w *float32, v *uint16, ntok int, d int, pf unsafe.Pointer, pfLines int)

//go:noescape
func accum4BF16(acc *float32, w *float32, v *uint16, ntok int, d int, pf unsafe.Pointer, pfLines int)

//go:noescape
func accum4FP8(acc *float32, w *float32, v *uint8, ntok int, d int, pf unsafe.Pointer, pfLines int)

//go:noescape
func max4(s *float32, n int, out *[4]float32)

//go:noescape
func exp4(s *float32, n int, m *[4]float32, wscale float32, sums *[4]float32)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// hasAVX2 reports AVX2, FMA and F16C with the OS saving the YMM state.
var hasAVX2 = func() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx, f16c = 1 << 12, 1 << 27, 1 << 28, 1 << 29
	if ecx1&(fma|osxsave|avx|f16c) != fma|osxsave|avx|f16c {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}()

// fits reports whether count ≥ 1 items of per ≥ 1 elements fit in n elements,
// without forming count×per (which could wrap around).
func fits(n, count, per int) bool { return count > 0 && per > 0 && count <= n/per }

// asmHeadDim reports whether the kernels serve head dim d: a positive multiple of 16
// (their loops run at least once and step 16 elements).
func asmHeadDim(d int) bool { return d >= 16 && d%16 == 0 }

// The wrappers below check every region a kernel touches (the shapes of
// kernels_amd64.h) before calling it; they are the only callers of the kernels.

// asmScore scores one K segment of n tokens against a group's 4 query rows. It writes
// (n+1)/2 passes of 8 floats to out (an odd last token is scored twice).
func asmScore(dt DType, q []float32, k kvView, n, d int, out []float32, pf prefetch, post float32) {
	if !asmHeadDim(d) || !fits(len(q), 4, d) || !fits(k.elems(dt), n, d) || !fits(len(out), n/2+n%2, 8) {
		panic("attention: asmScore bounds")
	}
	switch dt {
	case Float32:
		score4F32(&q[0], &k.f32[0], n, d, &out[0], pf.p, pf.lines, post)
	case Float16:
		score4F16(&q[0], &k.u16[0], n, d, &out[0], pf.p, pf.lines, post)
	case BFloat16:
		score4BF16(&q[0], &k.u16[0], n, d, &out[0], pf.p, pf.lines, post)
	case FP8E4M3:
		score4FP8(&q[0], &k.u8[0], n, d, &out[0], pf.p, pf.lines, post)
	}
}

// asmAccum adds one V segment of n tokens, weighted, to a group's 4 rows.
func asmAccum(dt DType, acc, w []float32, v kvView, n, d int, pf prefetch) {
	if !asmHeadDim(d) || !fits(len(acc), 4, d) || !fits(len(w), n, 4) || !fits(v.elems(dt), n, d) {
		panic("attention: asmAccum bounds")
	}
	switch dt {
	case Float32:
		accum4F32(&acc[0], &w[0], &v.f32[0], n, d, pf.p, pf.lines)
	case Float16:
		accum4F16(&acc[0], &w[0], &v.u16[0], n, d, pf.p, pf.lines)
	case BFloat16:
		accum4BF16(&acc[0], &w[0], &v.u16[0], n, d, pf.p, pf.lines)
	case FP8E4M3:
		accum4FP8(&acc[0], &w[0], &v.u8[0], n, d, pf.p, pf.lines)
	}
}

// asmMax4 returns the largest score of each row over n (even) tokens.
func asmMax4(s []float32, n int) (m [4]float32) {
	if n < 2 || n%2 != 0 || !fits(len(s), n, 4) {
		panic("attention: asmMax4 bounds")
	}
	max4(&s[0], n, &m)
	return m
}

// asmExp4 turns n (even) tokens' scores into weights (see exp4) and returns the
// rows' sums.
func asmExp4(s []float32, n int, m *[4]float32, wscale float32) (sums [4]float32) {
	if n < 2 || n%2 != 0 || !fits(len(s), n, 4) {
		panic("attention: asmExp4 bounds")
	}
	exp4(&s[0], n, m, wscale, &sums)
	return sums
}
