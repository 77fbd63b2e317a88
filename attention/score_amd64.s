// Scoring kernels; shapes and conventions in kernels_amd64.h.

#include "textflag.h"
#include "kernels_amd64.h"

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
