// Value accumulation kernels; shapes and conventions in kernels_amd64.h.

#include "textflag.h"
#include "kernels_amd64.h"

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
