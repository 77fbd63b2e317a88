//go:build !goexperiment.simd || !amd64

package attention

// portableImpl names the portable path's vector code.
const portableImpl = "go"

func dot(a, b []float32) float32               { return dotGo(a, b) }
func axpy(y []float32, w float32, x []float32) { axpyGo(y, w, x) }
func widenF16(dst []float32, src []uint16)     { widenF16Go(dst, src) }
func widenBF16(dst []float32, src []uint16)    { widenBF16Go(dst, src) }
func widenFP8(dst []float32, src []uint8)      { widenFP8Go(dst, src) }
func expShift(s []float32, m float32) float32  { return expShiftGo(s, m) }

func scoreRows(q [][]float32, kseg []float32, n, d int, scale float32, ws []float32, stride int) {
	scoreRowsGo(q, kseg, n, d, scale, ws, stride)
}

func accumRowsSegs(acc []float32, rows int, ws []float32, stride int, segs [][]float32, d int) {
	accumRowsSegsGo(acc, rows, ws, stride, segs, d)
}
