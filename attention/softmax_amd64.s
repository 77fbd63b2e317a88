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
