// AVX2 + FMA (+ F16C) kernels for the fast path (see asm_amd64.go and fast.go).
//
// Shapes shared by every kernel:
//   - a group is 4 query rows; q and acc are [4][d] float32, rows d×4 bytes apart;
//   - scores and weights are [token][4] float32 (one token's 4 rows adjacent);
//   - K and V are n tokens × d stored elements, rows d×size bytes apart;
//   - d is a multiple of 16; elements are processed in slices of 16, which bfloat16
//     widens as two vectors (even elements, odd elements): for it q and acc are kept
//     in that permuted order by the Go side.
//   - pf/pfLines: a region to prefetch into L2 (PREFETCHT1), two 64-byte lines per
//     inner iteration until pfLines are issued (prefetches never fault).

#include "textflag.h"

// PF2 prefetches two lines at R9 while R10 > 0.
#define PF2 \
	CMPQ R10, $0 \
	JLE  5(PC) \
	PREFETCHT1 (R9) \
	PREFETCHT1 64(R9) \
	ADDQ $128, R9 \
	SUBQ $2, R10

#define SCORE_PROLOGUE(kshift) \
	MOVQ q+0(FP), SI \
	MOVQ k+8(FP), DI \
	MOVQ ntok+16(FP), CX \
	MOVQ d+24(FP), DX \
	MOVQ out+32(FP), R8 \
	MOVQ pf+40(FP), R9 \
	MOVQ pfLines+48(FP), R10 \
	VBROADCASTSS post+56(FP), Y15 \
	MOVQ DX, R11 \
	SHLQ $2, R11 \
	LEAQ (SI)(R11*1), R12 \
	LEAQ (R12)(R11*1), R13 \
	LEAQ (R13)(R11*1), R14 \
	MOVQ DX, BX \
	SHLQ $kshift, BX

// SCORE_PAIR_START sets AX to the second token (DI again for an odd last token) and
// clears the accumulators; it jumps to done when no token is left.
#define SCORE_PAIR_START \
	CMPQ CX, $0 \
	JLE  done \
	LEAQ (DI)(BX*1), AX \
	CMPQ CX, $1 \
	JNE  2(PC) \
	MOVQ DI, AX \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	XORQ DX, DX

// SCORE_PAIR_END reduces the 8 accumulators transposed into one vector
// [t0r0 t0r1 t0r2 t0r3 t1r0 t1r1 t1r2 t1r3], scales, stores, advances.
#define SCORE_PAIR_END \
	VHADDPS Y1, Y0, Y0 \
	VHADDPS Y3, Y2, Y2 \
	VHADDPS Y2, Y0, Y0 \
	VHADDPS Y5, Y4, Y4 \
	VHADDPS Y7, Y6, Y6 \
	VHADDPS Y6, Y4, Y4 \
	VPERM2F128 $0x20, Y4, Y0, Y1 \
	VPERM2F128 $0x31, Y4, Y0, Y2 \
	VADDPS Y2, Y1, Y1 \
	VMULPS Y15, Y1, Y1 \
	VMOVUPS Y1, (R8) \
	ADDQ $32, R8 \
	LEAQ (DI)(BX*2), DI \
	SUBQ $2, CX

// FMA4ROWS multiplies the two tokens' vectors ka (token 0) and kb (token 1) by the q
// vector at byte offset off of each row (index DX×qscale) into the accumulators.
#define FMA4ROWS(off, qscale, ka, kb) \
	VMOVUPS off(SI)(DX*qscale), Y12 \
	VFMADD231PS ka, Y12, Y0 \
	VFMADD231PS kb, Y12, Y4 \
	VMOVUPS off(R12)(DX*qscale), Y13 \
	VFMADD231PS ka, Y13, Y1 \
	VFMADD231PS kb, Y13, Y5 \
	VMOVUPS off(R13)(DX*qscale), Y12 \
	VFMADD231PS ka, Y12, Y2 \
	VFMADD231PS kb, Y12, Y6 \
	VMOVUPS off(R14)(DX*qscale), Y13 \
	VFMADD231PS ka, Y13, Y3 \
	VFMADD231PS kb, Y13, Y7

#define ACC_PROLOGUE(vshift) \
	MOVQ acc+0(FP), SI \
	MOVQ w+8(FP), R8 \
	MOVQ v+16(FP), DI \
	MOVQ ntok+24(FP), CX \
	MOVQ d+32(FP), DX \
	MOVQ pf+40(FP), R9 \
	MOVQ pfLines+48(FP), R10 \
	CMPQ CX, $0 \
	JLE  done \
	MOVQ DX, R11 \
	SHLQ $2, R11 \
	LEAQ (SI)(R11*1), R12 \
	LEAQ (R12)(R11*1), R13 \
	LEAQ (R13)(R11*1), R14 \
	MOVQ DX, BX \
	SHLQ $vshift, BX \
	XORQ DX, DX

#define ACC_LOAD(ascale) \
	VMOVUPS (SI)(DX*ascale), Y0 \
	VMOVUPS 32(SI)(DX*ascale), Y1 \
	VMOVUPS (R12)(DX*ascale), Y2 \
	VMOVUPS 32(R12)(DX*ascale), Y3 \
	VMOVUPS (R13)(DX*ascale), Y4 \
	VMOVUPS 32(R13)(DX*ascale), Y5 \
	VMOVUPS (R14)(DX*ascale), Y6 \
	VMOVUPS 32(R14)(DX*ascale), Y7 \
	MOVQ R8, AX \
	LEAQ (DI)(DX*1), R15 \
	MOVQ CX, R11

#define ACC_STORE(ascale) \
	VMOVUPS Y0, (SI)(DX*ascale) \
	VMOVUPS Y1, 32(SI)(DX*ascale) \
	VMOVUPS Y2, (R12)(DX*ascale) \
	VMOVUPS Y3, 32(R12)(DX*ascale) \
	VMOVUPS Y4, (R13)(DX*ascale) \
	VMOVUPS Y5, 32(R13)(DX*ascale) \
	VMOVUPS Y6, (R14)(DX*ascale) \
	VMOVUPS Y7, 32(R14)(DX*ascale)

#define ACC_WEIGHTS \
	VBROADCASTSS (AX), Y8 \
	VBROADCASTSS 4(AX), Y9 \
	VBROADCASTSS 8(AX), Y10 \
	VBROADCASTSS 12(AX), Y11

#define ACC_FMA \
	VFMADD231PS Y12, Y8, Y0 \
	VFMADD231PS Y13, Y8, Y1 \
	VFMADD231PS Y12, Y9, Y2 \
	VFMADD231PS Y13, Y9, Y3 \
	VFMADD231PS Y12, Y10, Y4 \
	VFMADD231PS Y13, Y10, Y5 \
	VFMADD231PS Y12, Y11, Y6 \
	VFMADD231PS Y13, Y11, Y7

#define ACC_NEXT_TOKEN \
	PF2 \
	ADDQ $16, AX \
	ADDQ BX, R15 \
	DECQ R11

// ---------------------------------------------------------------------------
// Scoring: out[t][r] = post × Σ_x q[r][x]·k[t][x] for t < ntok, two tokens per pass
// (an odd last token is scored twice; the pass writes 8 floats).
// Registers: SI,R12,R13,R14 q rows; DI,AX k rows of the pair; DX element offset in
// K bytes; BX K row bytes; CX tokens left; R8 out; Y0–Y3 token 0 × rows 0–3,
// Y4–Y7 token 1; Y15 post.

// func score4F32(q *float32, k *float32, ntok int, d int, out *float32, pf unsafe.Pointer, pfLines int, post float32)
TEXT ·score4F32(SB), NOSPLIT, $0-60
	SCORE_PROLOGUE(2)
pair:
	SCORE_PAIR_START
	PCALIGN $64
loop:
	VMOVUPS (DI)(DX*1), Y8
	VMOVUPS (AX)(DX*1), Y9
	VMOVUPS 32(DI)(DX*1), Y10
	VMOVUPS 32(AX)(DX*1), Y11
	FMA4ROWS(0, 1, Y8, Y9)
	FMA4ROWS(32, 1, Y10, Y11)
	PF2
	ADDQ $64, DX
	CMPQ DX, BX
	JB   loop
	SCORE_PAIR_END
	JMP  pair
done:
	VZEROUPPER
	RET

// func score4F16(q *float32, k *uint16, ntok int, d int, out *float32, pf unsafe.Pointer, pfLines int, post float32)
TEXT ·score4F16(SB), NOSPLIT, $0-60
	SCORE_PROLOGUE(1)
pair:
	SCORE_PAIR_START
	PCALIGN $64
loop:
	VCVTPH2PS (DI)(DX*1), Y8
	VCVTPH2PS (AX)(DX*1), Y9
	VCVTPH2PS 16(DI)(DX*1), Y10
	VCVTPH2PS 16(AX)(DX*1), Y11
	FMA4ROWS(0, 2, Y8, Y9)
	FMA4ROWS(32, 2, Y10, Y11)
	PF2
	ADDQ $32, DX
	CMPQ DX, BX
	JB   loop
	SCORE_PAIR_END
	JMP  pair
done:
	VZEROUPPER
	RET

// bfloat16: 16 elements (32 bytes) per step; even elements = dword << 16, odd =
// dword & 0xffff0000. Y14 holds the mask.
// func score4BF16(q *float32, k *uint16, ntok int, d int, out *float32, pf unsafe.Pointer, pfLines int, post float32)
TEXT ·score4BF16(SB), NOSPLIT, $0-60
	SCORE_PROLOGUE(1)
	MOVL $0xffff0000, R11
	MOVQ R11, X14
	VPBROADCASTD X14, Y14
pair:
	SCORE_PAIR_START
	PCALIGN $64
loop:
	VMOVDQU (DI)(DX*1), Y9
	VMOVDQU (AX)(DX*1), Y11
	VPSLLD $16, Y9, Y8
	VPAND  Y14, Y9, Y9
	VPSLLD $16, Y11, Y10
	VPAND  Y14, Y11, Y11
	FMA4ROWS(0, 2, Y8, Y10)
	FMA4ROWS(32, 2, Y9, Y11)
	PF2
	ADDQ $32, DX
	CMPQ DX, BX
	JB   loop
	SCORE_PAIR_END
	JMP  pair
done:
	VZEROUPPER
	RET

// FP8 E4M3: 16 elements (16 bytes) per step, each byte sign-extended to a word
// (VPMOVSXBW), shifted left by 7 and masked with 0xbf80: sign at bit 15, exponent at
// bits 10–13, mantissa at 7–9, which is the IEEE half whose value is the element ×
// 2^-8, subnormals included (exact; the 2^8 is folded into q). VCVTPH2PS widens the
// halves to float32 normals: no float32 denormal ever reaches an FMA (they are slow).
// Natural order. Y14 holds the mask.
// func score4FP8(q *float32, k *uint8, ntok int, d int, out *float32, pf unsafe.Pointer, pfLines int, post float32)
TEXT ·score4FP8(SB), NOSPLIT, $0-60
	SCORE_PROLOGUE(0)
	MOVL $0xbf80bf80, R11
	MOVQ R11, X14
	VPBROADCASTD X14, Y14
pair:
	SCORE_PAIR_START
	PCALIGN $64
loop:
	VPMOVSXBW (DI)(DX*1), Y10
	VPMOVSXBW (AX)(DX*1), Y11
	VPSLLW $7, Y10, Y10
	VPSLLW $7, Y11, Y11
	VPAND  Y14, Y10, Y10
	VPAND  Y14, Y11, Y11
	VCVTPH2PS X10, Y8
	VCVTPH2PS X11, Y9
	VEXTRACTI128 $1, Y10, X10
	VEXTRACTI128 $1, Y11, X11
	VCVTPH2PS X10, Y10
	VCVTPH2PS X11, Y11
	FMA4ROWS(0, 4, Y8, Y9)
	FMA4ROWS(32, 4, Y10, Y11)
	PF2
	ADDQ $16, DX
	CMPQ DX, BX
	JB   loop
	SCORE_PAIR_END
	JMP  pair
done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// Accumulation: acc[r][x] += Σ_t w[t][r]·v[t][x] for t < ntok. For each slice of 16
// elements the 4 rows' 2 vectors stay in Y0–Y7 over every token.
// Registers: SI,R12,R13,R14 acc rows; DI v; BX V row bytes; DX slice offset in V
// bytes; R8 weights; AX weight cursor; R15 v cursor; R11 tokens left;
// Y8–Y11 the token's 4 weights; Y12, Y13 its widened slice.

// func accum4F32(acc *float32, w *float32, v *float32, ntok int, d int, pf unsafe.Pointer, pfLines int)
TEXT ·accum4F32(SB), NOSPLIT, $0-56
	ACC_PROLOGUE(2)
slice:
	ACC_LOAD(1)
	PCALIGN $64
tok:
	ACC_WEIGHTS
	VMOVUPS (R15), Y12
	VMOVUPS 32(R15), Y13
	ACC_FMA
	ACC_NEXT_TOKEN
	JNZ  tok
	ACC_STORE(1)
	ADDQ $64, DX
	CMPQ DX, BX
	JB   slice
done:
	VZEROUPPER
	RET

// func accum4F16(acc *float32, w *float32, v *uint16, ntok int, d int, pf unsafe.Pointer, pfLines int)
TEXT ·accum4F16(SB), NOSPLIT, $0-56
	ACC_PROLOGUE(1)
slice:
	ACC_LOAD(2)
	PCALIGN $64
tok:
	ACC_WEIGHTS
	VCVTPH2PS (R15), Y12
	VCVTPH2PS 16(R15), Y13
	ACC_FMA
	ACC_NEXT_TOKEN
	JNZ  tok
	ACC_STORE(2)
	ADDQ $32, DX
	CMPQ DX, BX
	JB   slice
done:
	VZEROUPPER
	RET

// func accum4BF16(acc *float32, w *float32, v *uint16, ntok int, d int, pf unsafe.Pointer, pfLines int)
TEXT ·accum4BF16(SB), NOSPLIT, $0-56
	ACC_PROLOGUE(1)
	MOVL $0xffff0000, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14
slice:
	ACC_LOAD(2)
	PCALIGN $64
tok:
	ACC_WEIGHTS
	VMOVDQU (R15), Y13
	VPSLLD $16, Y13, Y12
	VPAND  Y14, Y13, Y13
	ACC_FMA
	ACC_NEXT_TOKEN
	JNZ  tok
	ACC_STORE(2)
	ADDQ $32, DX
	CMPQ DX, BX
	JB   slice
done:
	VZEROUPPER
	RET

// func accum4FP8(acc *float32, w *float32, v *uint8, ntok int, d int, pf unsafe.Pointer, pfLines int)
// (widened like score4FP8; the weights carry the 2^8)
TEXT ·accum4FP8(SB), NOSPLIT, $0-56
	ACC_PROLOGUE(0)
	MOVL $0xbf80bf80, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14
slice:
	ACC_LOAD(4)
	PCALIGN $64
tok:
	ACC_WEIGHTS
	VPMOVSXBW (R15), Y13
	VPSLLW $7, Y13, Y13
	VPAND  Y14, Y13, Y13
	VCVTPH2PS X13, Y12
	VEXTRACTI128 $1, Y13, X13
	VCVTPH2PS X13, Y13
	ACC_FMA
	ACC_NEXT_TOKEN
	JNZ  tok
	ACC_STORE(4)
	ADDQ $16, DX
	CMPQ DX, BX
	JB   slice
done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// Softmax helpers over [token][4] scores; n is even and ≥ 2.

// func max4(s *float32, n int, out *[4]float32)
TEXT ·max4(SB), NOSPLIT, $0-24
	MOVQ s+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ out+16(FP), DI
	VMOVUPS (SI), Y0
	ADDQ $32, SI
	SUBQ $2, CX
loop:
	CMPQ CX, $0
	JLE  end
	VMAXPS (SI), Y0, Y0
	ADDQ $32, SI
	SUBQ $2, CX
	JMP  loop
end:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VMOVUPS X0, (DI)
	VZEROUPPER
	RET

// 8 copies of each constant of the exponential (see fastExp in vec.go).
// log2 e
DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
// ln2 hi 0.693359375
DATA expc<>+32(SB)/4, $0x3f318000
DATA expc<>+36(SB)/4, $0x3f318000
DATA expc<>+40(SB)/4, $0x3f318000
DATA expc<>+44(SB)/4, $0x3f318000
DATA expc<>+48(SB)/4, $0x3f318000
DATA expc<>+52(SB)/4, $0x3f318000
DATA expc<>+56(SB)/4, $0x3f318000
DATA expc<>+60(SB)/4, $0x3f318000
// ln2 lo -2.12194440e-4
DATA expc<>+64(SB)/4, $0xb95e8083
DATA expc<>+68(SB)/4, $0xb95e8083
DATA expc<>+72(SB)/4, $0xb95e8083
DATA expc<>+76(SB)/4, $0xb95e8083
DATA expc<>+80(SB)/4, $0xb95e8083
DATA expc<>+84(SB)/4, $0xb95e8083
DATA expc<>+88(SB)/4, $0xb95e8083
DATA expc<>+92(SB)/4, $0xb95e8083
// 1/720
DATA expc<>+96(SB)/4, $0x3ab60b61
DATA expc<>+100(SB)/4, $0x3ab60b61
DATA expc<>+104(SB)/4, $0x3ab60b61
DATA expc<>+108(SB)/4, $0x3ab60b61
DATA expc<>+112(SB)/4, $0x3ab60b61
DATA expc<>+116(SB)/4, $0x3ab60b61
DATA expc<>+120(SB)/4, $0x3ab60b61
DATA expc<>+124(SB)/4, $0x3ab60b61
// 1/120
DATA expc<>+128(SB)/4, $0x3c088889
DATA expc<>+132(SB)/4, $0x3c088889
DATA expc<>+136(SB)/4, $0x3c088889
DATA expc<>+140(SB)/4, $0x3c088889
DATA expc<>+144(SB)/4, $0x3c088889
DATA expc<>+148(SB)/4, $0x3c088889
DATA expc<>+152(SB)/4, $0x3c088889
DATA expc<>+156(SB)/4, $0x3c088889
// 1/24
DATA expc<>+160(SB)/4, $0x3d2aaaab
DATA expc<>+164(SB)/4, $0x3d2aaaab
DATA expc<>+168(SB)/4, $0x3d2aaaab
DATA expc<>+172(SB)/4, $0x3d2aaaab
DATA expc<>+176(SB)/4, $0x3d2aaaab
DATA expc<>+180(SB)/4, $0x3d2aaaab
DATA expc<>+184(SB)/4, $0x3d2aaaab
DATA expc<>+188(SB)/4, $0x3d2aaaab
// 1/6
DATA expc<>+192(SB)/4, $0x3e2aaaab
DATA expc<>+196(SB)/4, $0x3e2aaaab
DATA expc<>+200(SB)/4, $0x3e2aaaab
DATA expc<>+204(SB)/4, $0x3e2aaaab
DATA expc<>+208(SB)/4, $0x3e2aaaab
DATA expc<>+212(SB)/4, $0x3e2aaaab
DATA expc<>+216(SB)/4, $0x3e2aaaab
DATA expc<>+220(SB)/4, $0x3e2aaaab
// 1/2
DATA expc<>+224(SB)/4, $0x3f000000
DATA expc<>+228(SB)/4, $0x3f000000
DATA expc<>+232(SB)/4, $0x3f000000
DATA expc<>+236(SB)/4, $0x3f000000
DATA expc<>+240(SB)/4, $0x3f000000
DATA expc<>+244(SB)/4, $0x3f000000
DATA expc<>+248(SB)/4, $0x3f000000
DATA expc<>+252(SB)/4, $0x3f000000
// 1
DATA expc<>+256(SB)/4, $0x3f800000
DATA expc<>+260(SB)/4, $0x3f800000
DATA expc<>+264(SB)/4, $0x3f800000
DATA expc<>+268(SB)/4, $0x3f800000
DATA expc<>+272(SB)/4, $0x3f800000
DATA expc<>+276(SB)/4, $0x3f800000
DATA expc<>+280(SB)/4, $0x3f800000
DATA expc<>+284(SB)/4, $0x3f800000
// -87
DATA expc<>+288(SB)/4, $0xc2ae0000
DATA expc<>+292(SB)/4, $0xc2ae0000
DATA expc<>+296(SB)/4, $0xc2ae0000
DATA expc<>+300(SB)/4, $0xc2ae0000
DATA expc<>+304(SB)/4, $0xc2ae0000
DATA expc<>+308(SB)/4, $0xc2ae0000
DATA expc<>+312(SB)/4, $0xc2ae0000
DATA expc<>+316(SB)/4, $0xc2ae0000
// exponent bias 127 (int32)
DATA expc<>+320(SB)/4, $0x0000007f
DATA expc<>+324(SB)/4, $0x0000007f
DATA expc<>+328(SB)/4, $0x0000007f
DATA expc<>+332(SB)/4, $0x0000007f
DATA expc<>+336(SB)/4, $0x0000007f
DATA expc<>+340(SB)/4, $0x0000007f
DATA expc<>+344(SB)/4, $0x0000007f
DATA expc<>+348(SB)/4, $0x0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $352

// exp4 replaces s[t][r] by e^(s[t][r] − m[r]) × wscale (0 where the exponent is below
// −87) and writes Σ_t e^(s[t][r] − m[r]) to sums[r].
// func exp4(s *float32, n int, m *[4]float32, wscale float32, sums *[4]float32)
TEXT ·exp4(SB), NOSPLIT, $0-40
	MOVQ s+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ m+16(FP), AX
	VBROADCASTF128 (AX), Y1
	VBROADCASTSS wscale+24(FP), Y2
	MOVQ sums+32(FP), DI
	VXORPS Y3, Y3, Y3
	VMOVUPS expc<>+288(SB), Y10
	VMOVUPS expc<>+0(SB), Y4
	VMOVUPS expc<>+32(SB), Y5
	VMOVUPS expc<>+64(SB), Y6
	VMOVUPS expc<>+256(SB), Y7
	VMOVUPS expc<>+320(SB), Y14
	PCALIGN $64
loop:
	VMOVUPS (SI), Y0
	VSUBPS  Y1, Y0, Y0
	VCMPPS  $1, Y10, Y0, Y9
	VMAXPS  Y10, Y0, Y8
	VMULPS  Y4, Y8, Y11
	VROUNDPS $8, Y11, Y11
	VFNMADD231PS Y5, Y11, Y8
	VFNMADD231PS Y6, Y11, Y8
	VMOVUPS expc<>+96(SB), Y12
	VFMADD213PS expc<>+128(SB), Y8, Y12
	VFMADD213PS expc<>+160(SB), Y8, Y12
	VFMADD213PS expc<>+192(SB), Y8, Y12
	VFMADD213PS expc<>+224(SB), Y8, Y12
	VFMADD213PS Y7, Y8, Y12
	VFMADD213PS Y7, Y8, Y12
	VCVTPS2DQ Y11, Y13
	VPADDD  Y14, Y13, Y13
	VPSLLD  $23, Y13, Y13
	VMULPS  Y13, Y12, Y12
	VANDNPS Y12, Y9, Y12
	VADDPS  Y12, Y3, Y3
	VMULPS  Y2, Y12, Y12
	VMOVUPS Y12, (SI)
	ADDQ $32, SI
	SUBQ $2, CX
	JG   loop
	VEXTRACTF128 $1, Y3, X4
	VADDPS X4, X3, X3
	VMOVUPS X3, (DI)
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
