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
//
// This header holds what the kernel files share; score_amd64.s, accum_amd64.s and
// softmax_amd64.s include it.

// PF2 prefetches two lines at R9 while R10 > 0.
#define PF2 \
	CMPQ R10, $0 \
	JLE  5(PC) \
	PREFETCHT1 (R9) \
	PREFETCHT1 64(R9) \
	ADDQ $128, R9 \
	SUBQ $2, R10
