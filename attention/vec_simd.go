//go:build goexperiment.simd && amd64

package attention

import (
	"simd/archsimd"
	"unsafe"
)

// portableImpl names the portable path's vector code.
var portableImpl = func() string {
	if useAVX512 {
		return "simd/archsimd AVX-512"
	}
	return "go (no AVX-512 on this CPU)"
}()

var useAVX512 = archsimd.X86.AVX512()

func dot(a, b []float32) float32 {
	if !useAVX512 || len(a) < 16 {
		return dotGo(a, b)
	}
	n := len(a)
	b = b[:n]
	var acc0, acc1 archsimd.Float32x16
	i := 0
	for ; i+32 <= n; i += 32 {
		acc0 = archsimd.LoadFloat32x16Slice(a[i:]).MulAdd(archsimd.LoadFloat32x16Slice(b[i:]), acc0)
		acc1 = archsimd.LoadFloat32x16Slice(a[i+16:]).MulAdd(archsimd.LoadFloat32x16Slice(b[i+16:]), acc1)
	}
	if i+16 <= n {
		acc0 = archsimd.LoadFloat32x16Slice(a[i:]).MulAdd(archsimd.LoadFloat32x16Slice(b[i:]), acc0)
		i += 16
	}
	s := hsum(acc0.Add(acc1))
	for ; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

func axpy(y []float32, w float32, x []float32) {
	if !useAVX512 || len(y) < 16 {
		axpyGo(y, w, x)
		return
	}
	n := len(y)
	x = x[:n]
	wv := archsimd.BroadcastFloat32x16(w)
	i := 0
	for ; i+16 <= n; i += 16 {
		archsimd.LoadFloat32x16Slice(x[i:]).MulAdd(wv, archsimd.LoadFloat32x16Slice(y[i:])).StoreSlice(y[i:])
	}
	for ; i < n; i++ {
		y[i] += w * x[i]
	}
}

func widenBF16(dst []float32, src []uint16) {
	if !useAVX512 {
		widenBF16Go(dst, src)
		return
	}
	n := len(dst)
	src = src[:n]
	i := 0
	for ; i+16 <= n; i += 16 {
		archsimd.LoadUint16x16Slice(src[i:]).ExtendToUint32().ShiftAllLeft(16).AsFloat32x16().StoreSlice(dst[i:])
	}
	widenBF16Go(dst[i:], src[i:])
}

// widenF16 uses the exact identity half(h) = float32bits((h&0x7fff)<<13) × 2^112
// (normal and subnormal halves alike), then restores the sign.
func widenF16(dst []float32, src []uint16) {
	if !useAVX512 {
		widenF16Go(dst, src)
		return
	}
	n := len(dst)
	src = src[:n]
	magMask, signMask := archsimd.BroadcastUint32x16(0x7fff), archsimd.BroadcastUint32x16(0x8000)
	bias := archsimd.BroadcastFloat32x16(0x1p112)
	i := 0
	for ; i+16 <= n; i += 16 {
		u := archsimd.LoadUint16x16Slice(src[i:]).ExtendToUint32()
		mag := u.And(magMask).ShiftAllLeft(13).AsFloat32x16().Mul(bias)
		mag.AsUint32x16().Or(u.And(signMask).ShiftAllLeft(16)).AsFloat32x16().StoreSlice(dst[i:])
	}
	widenF16Go(dst[i:], src[i:])
}

// widenFP8 is the same identity for E4M3: float32bits((v&0x7f)<<20) × 2^120.
func widenFP8(dst []float32, src []uint8) {
	if !useAVX512 {
		widenFP8Go(dst, src)
		return
	}
	n := len(dst)
	src = src[:n]
	magMask, signMask := archsimd.BroadcastUint32x16(0x7f), archsimd.BroadcastUint32x16(0x80)
	bias := archsimd.BroadcastFloat32x16(0x1p120)
	i := 0
	for ; i+16 <= n; i += 16 {
		u := archsimd.LoadUint8x16Slice(src[i:]).ExtendToUint32()
		mag := u.And(magMask).ShiftAllLeft(20).AsFloat32x16().Mul(bias)
		mag.AsUint32x16().Or(u.And(signMask).ShiftAllLeft(24)).AsFloat32x16().StoreSlice(dst[i:])
	}
	widenFP8Go(dst[i:], src[i:])
}

// hsum adds the 16 lanes.
func hsum(v archsimd.Float32x16) float32 {
	h := v.GetHi().Add(v.GetLo())
	q := h.GetHi().Add(h.GetLo())
	q = q.AddPairs(q)
	q = q.AddPairs(q)
	return q.GetElem(0)
}

func expShift(s []float32, m float32) float32 {
	if !useAVX512 || len(s) < 16 {
		return expShiftGo(s, m)
	}
	mv := archsimd.BroadcastFloat32x16(m)
	lo := archsimd.BroadcastFloat32x16(expMin)
	log2e := archsimd.BroadcastFloat32x16(expLog2e)
	half := archsimd.BroadcastFloat32x16(0.5)
	ln2hi, ln2lo := archsimd.BroadcastFloat32x16(-expLn2Hi), archsimd.BroadcastFloat32x16(-expLn2Lo)
	c6, c5, c4 := archsimd.BroadcastFloat32x16(1.0/720), archsimd.BroadcastFloat32x16(1.0/120), archsimd.BroadcastFloat32x16(1.0/24)
	c3, c2, one := archsimd.BroadcastFloat32x16(1.0/6), archsimd.BroadcastFloat32x16(0.5), archsimd.BroadcastFloat32x16(1)
	bias := archsimd.BroadcastInt32x16(127)
	var acc archsimd.Float32x16
	n := len(s)
	i := 0
	for ; i+16 <= n; i += 16 {
		x := archsimd.LoadFloat32x16Slice(s[i:]).Sub(mv)
		keep := x.GreaterEqual(lo)
		x = x.Max(lo)
		k := x.Mul(log2e).Sub(half).ConvertToInt32() // round to nearest (x ≤ 0)
		kf := k.ConvertToFloat32()
		r := kf.MulAdd(ln2hi, x)
		r = kf.MulAdd(ln2lo, r)
		p := c6.MulAdd(r, c5)
		p = p.MulAdd(r, c4)
		p = p.MulAdd(r, c3)
		p = p.MulAdd(r, c2)
		p = p.MulAdd(r, one)
		p = p.MulAdd(r, one)
		e := p.Mul(k.Add(bias).ShiftAllLeft(23).AsFloat32x16())
		e = e.Masked(keep)
		e.StoreSlice(s[i:])
		acc = acc.Add(e)
	}
	sum := hsum(acc)
	return sum + expShiftGo(s[i:], m)
}

// hsum4 returns the lane sums of four vectors as one Float32x4 (three horizontal adds
// instead of four separate reductions).
func hsum4(a0, a1, a2, a3 archsimd.Float32x16) archsimd.Float32x4 {
	s0 := a0.GetLo().Add(a0.GetHi())
	s1 := a1.GetLo().Add(a1.GetHi())
	s2 := a2.GetLo().Add(a2.GetHi())
	s3 := a3.GetLo().Add(a3.GetHi())
	u := s0.AddPairsGrouped(s1).AddPairsGrouped(s2.AddPairsGrouped(s3))
	return u.GetLo().Add(u.GetHi())
}

// scoreRows sets ws[j*stride+t] = scale · q[j]·k[t] for the n key rows of kseg. Four
// query rows and two key rows are processed together, so each loaded lane feeds
// several multiply-adds.
func scoreRows(q [][]float32, kseg []float32, n, d int, scale float32, ws []float32, stride int) {
	if !useAVX512 || d%16 != 0 || len(q)%4 != 0 || n == 0 {
		scoreRowsGo(q, kseg, n, d, scale, ws, stride)
		return
	}
	sv := archsimd.BroadcastFloat32x4(scale)
	var out [4]float32
	for j := 0; j < len(q); j += 4 {
		q0, q1, q2, q3 := q[j][:d], q[j+1][:d], q[j+2][:d], q[j+3][:d]
		o0, o1, o2, o3 := ws[j*stride:j*stride+n], ws[(j+1)*stride:(j+1)*stride+n], ws[(j+2)*stride:(j+2)*stride+n], ws[(j+3)*stride:(j+3)*stride+n]
		t := 0
		p0, p1, p2, p3 := unsafe.Pointer(&q0[0]), unsafe.Pointer(&q1[0]), unsafe.Pointer(&q2[0]), unsafe.Pointer(&q3[0])
		_ = kseg[n*d-1] // every key row below is in range
		for ; t+2 <= n; t += 2 {
			pk0, pk1 := unsafe.Pointer(&kseg[t*d]), unsafe.Pointer(&kseg[(t+1)*d])
			var a0, a1, a2, a3, b0, b1, b2, b3 archsimd.Float32x16
			i := 0
			if d == 128 { // fully unrolled: no loop branch whose alignment matters
				x0, x1 := archsimd.LoadFloat32x16(at(pk0, 0)), archsimd.LoadFloat32x16(at(pk1, 0))
				y := archsimd.LoadFloat32x16(at(p0, 0))
				a0, b0 = y.MulAdd(x0, a0), y.MulAdd(x1, b0)
				y = archsimd.LoadFloat32x16(at(p1, 0))
				a1, b1 = y.MulAdd(x0, a1), y.MulAdd(x1, b1)
				y = archsimd.LoadFloat32x16(at(p2, 0))
				a2, b2 = y.MulAdd(x0, a2), y.MulAdd(x1, b2)
				y = archsimd.LoadFloat32x16(at(p3, 0))
				a3, b3 = y.MulAdd(x0, a3), y.MulAdd(x1, b3)
				x0, x1 = archsimd.LoadFloat32x16(at(pk0, 16)), archsimd.LoadFloat32x16(at(pk1, 16))
				y = archsimd.LoadFloat32x16(at(p0, 16))
				a0, b0 = y.MulAdd(x0, a0), y.MulAdd(x1, b0)
				y = archsimd.LoadFloat32x16(at(p1, 16))
				a1, b1 = y.MulAdd(x0, a1), y.MulAdd(x1, b1)
				y = archsimd.LoadFloat32x16(at(p2, 16))
				a2, b2 = y.MulAdd(x0, a2), y.MulAdd(x1, b2)
				y = archsimd.LoadFloat32x16(at(p3, 16))
				a3, b3 = y.MulAdd(x0, a3), y.MulAdd(x1, b3)
				x0, x1 = archsimd.LoadFloat32x16(at(pk0, 32)), archsimd.LoadFloat32x16(at(pk1, 32))
				y = archsimd.LoadFloat32x16(at(p0, 32))
				a0, b0 = y.MulAdd(x0, a0), y.MulAdd(x1, b0)
				y = archsimd.LoadFloat32x16(at(p1, 32))
				a1, b1 = y.MulAdd(x0, a1), y.MulAdd(x1, b1)
				y = archsimd.LoadFloat32x16(at(p2, 32))
				a2, b2 = y.MulAdd(x0, a2), y.MulAdd(x1, b2)
				y = archsimd.LoadFloat32x16(at(p3, 32))
				a3, b3 = y.MulAdd(x0, a3), y.MulAdd(x1, b3)
				x0, x1 = archsimd.LoadFloat32x16(at(pk0, 48)), archsimd.LoadFloat32x16(at(pk1, 48))
				y = archsimd.LoadFloat32x16(at(p0, 48))
				a0, b0 = y.MulAdd(x0, a0), y.MulAdd(x1, b0)
				y = archsimd.LoadFloat32x16(at(p1, 48))
				a1, b1 = y.MulAdd(x0, a1), y.MulAdd(x1, b1)
				y = archsimd.LoadFloat32x16(at(p2, 48))
				a2, b2 = y.MulAdd(x0, a2), y.MulAdd(x1, b2)
				y = archsimd.LoadFloat32x16(at(p3, 48))
				a3, b3 = y.MulAdd(x0, a3), y.MulAdd(x1, b3)
				x0, x1 = archsimd.LoadFloat32x16(at(pk0, 64)), archsimd.LoadFloat32x16(at(pk1, 64))
				y = archsimd.LoadFloat32x16(at(p0, 64))
				a0, b0 = y.MulAdd(x0, a0), y.MulAdd(x1, b0)
				y = archsimd.LoadFloat32x16(at(p1, 64))
				a1, b1 = y.MulAdd(x0, a1), y.MulAdd(x1, b1)
				y = archsimd.LoadFloat32x16(at(p2, 64))
				a2, b2 = y.MulAdd(x0, a2), y.MulAdd(x1, b2)
				y = archsimd.LoadFloat32x16(at(p3, 64))
				a3, b3 = y.MulAdd(x0, a3), y.MulAdd(x1, b3)
				x0, x1 = archsimd.LoadFloat32x16(at(pk0, 80)), archsimd.LoadFloat32x16(at(pk1, 80))
				y = archsimd.LoadFloat32x16(at(p0, 80))
				a0, b0 = y.MulAdd(x0, a0), y.MulAdd(x1, b0)
				y = archsimd.LoadFloat32x16(at(p1, 80))
				a1, b1 = y.MulAdd(x0, a1), y.MulAdd(x1, b1)
				y = archsimd.LoadFloat32x16(at(p2, 80))
				a2, b2 = y.MulAdd(x0, a2), y.MulAdd(x1, b2)
				y = archsimd.LoadFloat32x16(at(p3, 80))
				a3, b3 = y.MulAdd(x0, a3), y.MulAdd(x1, b3)
				x0, x1 = archsimd.LoadFloat32x16(at(pk0, 96)), archsimd.LoadFloat32x16(at(pk1, 96))
				y = archsimd.LoadFloat32x16(at(p0, 96))
				a0, b0 = y.MulAdd(x0, a0), y.MulAdd(x1, b0)
				y = archsimd.LoadFloat32x16(at(p1, 96))
				a1, b1 = y.MulAdd(x0, a1), y.MulAdd(x1, b1)
				y = archsimd.LoadFloat32x16(at(p2, 96))
				a2, b2 = y.MulAdd(x0, a2), y.MulAdd(x1, b2)
				y = archsimd.LoadFloat32x16(at(p3, 96))
				a3, b3 = y.MulAdd(x0, a3), y.MulAdd(x1, b3)
				x0, x1 = archsimd.LoadFloat32x16(at(pk0, 112)), archsimd.LoadFloat32x16(at(pk1, 112))
				y = archsimd.LoadFloat32x16(at(p0, 112))
				a0, b0 = y.MulAdd(x0, a0), y.MulAdd(x1, b0)
				y = archsimd.LoadFloat32x16(at(p1, 112))
				a1, b1 = y.MulAdd(x0, a1), y.MulAdd(x1, b1)
				y = archsimd.LoadFloat32x16(at(p2, 112))
				a2, b2 = y.MulAdd(x0, a2), y.MulAdd(x1, b2)
				y = archsimd.LoadFloat32x16(at(p3, 112))
				a3, b3 = y.MulAdd(x0, a3), y.MulAdd(x1, b3)
				i = d
			}
			for ; i < d; i += 16 {
				x0, x1 := archsimd.LoadFloat32x16(at(pk0, i)), archsimd.LoadFloat32x16(at(pk1, i))
				y := archsimd.LoadFloat32x16(at(p0, i))
				a0, b0 = y.MulAdd(x0, a0), y.MulAdd(x1, b0)
				y = archsimd.LoadFloat32x16(at(p1, i))
				a1, b1 = y.MulAdd(x0, a1), y.MulAdd(x1, b1)
				y = archsimd.LoadFloat32x16(at(p2, i))
				a2, b2 = y.MulAdd(x0, a2), y.MulAdd(x1, b2)
				y = archsimd.LoadFloat32x16(at(p3, i))
				a3, b3 = y.MulAdd(x0, a3), y.MulAdd(x1, b3)
			}
			hsum4(a0, a1, a2, a3).Mul(sv).Store(&out)
			o0[t], o1[t], o2[t], o3[t] = out[0], out[1], out[2], out[3]
			hsum4(b0, b1, b2, b3).Mul(sv).Store(&out)
			o0[t+1], o1[t+1], o2[t+1], o3[t+1] = out[0], out[1], out[2], out[3]
		}
		for ; t < n; t++ {
			k := kseg[t*d : t*d+d]
			var a0, a1, a2, a3 archsimd.Float32x16
			for i := 0; i < d; i += 16 {
				x := archsimd.LoadFloat32x16Slice(k[i:])
				a0 = archsimd.LoadFloat32x16Slice(q0[i:]).MulAdd(x, a0)
				a1 = archsimd.LoadFloat32x16Slice(q1[i:]).MulAdd(x, a1)
				a2 = archsimd.LoadFloat32x16Slice(q2[i:]).MulAdd(x, a2)
				a3 = archsimd.LoadFloat32x16Slice(q3[i:]).MulAdd(x, a3)
			}
			hsum4(a0, a1, a2, a3).Mul(sv).Store(&out)
			o0[t], o1[t], o2[t], o3[t] = out[0], out[1], out[2], out[3]
		}
	}
}

// accumRowsSegs keeps the accumulators of four rows in registers across all segments.
func accumRowsSegs(acc []float32, rows int, ws []float32, stride int, segs [][]float32, d int) {
	if !useAVX512 || d != 128 {
		accumRowsSegsGo(acc, rows, ws, stride, segs, d)
		return
	}
	j := 0
	for ; j+4 <= rows; j += 4 {
		accumSegs4x128(acc[j*d:], ws[j*stride:], stride, segs)
	}
	if j < rows {
		accumRowsSegsGo(acc[j*d:], rows-j, ws[j*stride:], stride, segs, d)
	}
}

func accumSegs4x128(acc []float32, ws []float32, stride int, segs [][]float32) {
	acc = acc[:4*128]
	w0s, w1s, w2s, w3s := ws, ws[stride:], ws[2*stride:], ws[3*stride:]
	for c := 0; c < 128; c += 32 {
		r0, r1, r2, r3 := acc[c:c+32], acc[128+c:128+c+32], acc[256+c:256+c+32], acc[384+c:384+c+32]
		a00, a01 := archsimd.LoadFloat32x16Slice(r0), archsimd.LoadFloat32x16Slice(r0[16:])
		a10, a11 := archsimd.LoadFloat32x16Slice(r1), archsimd.LoadFloat32x16Slice(r1[16:])
		a20, a21 := archsimd.LoadFloat32x16Slice(r2), archsimd.LoadFloat32x16Slice(r2[16:])
		a30, a31 := archsimd.LoadFloat32x16Slice(r3), archsimd.LoadFloat32x16Slice(r3[16:])
		col := 0
		for _, v := range segs {
			n := len(v) / 128
			if n == 0 {
				continue
			}
			w0, w1, w2, w3 := w0s[col:col+n], w1s[col:col+n], w2s[col:col+n], w3s[col:col+n]
			pv := unsafe.Pointer(&v[c]) // rows are 128 apart; v holds n of them
			for t := range n {
				x0, x1 := archsimd.LoadFloat32x16(at(pv, t*128)), archsimd.LoadFloat32x16(at(pv, t*128+16))
				b0 := archsimd.BroadcastFloat32x16(w0[t])
				a00, a01 = x0.MulAdd(b0, a00), x1.MulAdd(b0, a01)
				b1 := archsimd.BroadcastFloat32x16(w1[t])
				a10, a11 = x0.MulAdd(b1, a10), x1.MulAdd(b1, a11)
				b2 := archsimd.BroadcastFloat32x16(w2[t])
				a20, a21 = x0.MulAdd(b2, a20), x1.MulAdd(b2, a21)
				b3 := archsimd.BroadcastFloat32x16(w3[t])
				a30, a31 = x0.MulAdd(b3, a30), x1.MulAdd(b3, a31)
			}
			col += n
		}
		a00.StoreSlice(r0)
		a01.StoreSlice(r0[16:])
		a10.StoreSlice(r1)
		a11.StoreSlice(r1[16:])
		a20.StoreSlice(r2)
		a21.StoreSlice(r2[16:])
		a30.StoreSlice(r3)
		a31.StoreSlice(r3[16:])
	}
}

// at returns the 16 floats at element i of the array that p points to. Callers check
// the bounds once per slice (a hot loop would otherwise re-check every load).
func at(p unsafe.Pointer, i int) *[16]float32 {
	return (*[16]float32)(unsafe.Add(p, uintptr(i)*4))
}
