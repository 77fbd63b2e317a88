// Softmax helpers and CPU detection.

#include "textflag.h"

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

// 8 copies of each constant of the exponential (see fastExp in vec.go), so that a
// 256-bit memory operand reads it as a vector: EXPC8(offset, 32-bit value).
#define EXPC8(off, v) \
	DATA expc<>+(off+0)(SB)/4, v \
	DATA expc<>+(off+4)(SB)/4, v \
	DATA expc<>+(off+8)(SB)/4, v \
	DATA expc<>+(off+12)(SB)/4, v \
	DATA expc<>+(off+16)(SB)/4, v \
	DATA expc<>+(off+20)(SB)/4, v \
	DATA expc<>+(off+24)(SB)/4, v \
	DATA expc<>+(off+28)(SB)/4, v

EXPC8(0, $0x3fb8aa3b) // log2 e
EXPC8(32, $0x3f318000) // ln2 hi 0.693359375
EXPC8(64, $0xb95e8083) // ln2 lo -2.12194440e-4
EXPC8(96, $0x3ab60b61) // 1/720
EXPC8(128, $0x3c088889) // 1/120
EXPC8(160, $0x3d2aaaab) // 1/24
EXPC8(192, $0x3e2aaaab) // 1/6
EXPC8(224, $0x3f000000) // 1/2
EXPC8(256, $0x3f800000) // 1
EXPC8(288, $0xc2ae0000) // -87
EXPC8(320, $0x0000007f) // exponent bias 127 (int32)
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
