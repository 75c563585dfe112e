#include "textflag.h"

// func dotBlockFMA(lhs, rhs, out *float32, bd int)
//
// out[i*bd+j] += Σ_k lhs[i*bd+k]·rhs[j*bd+k] for i, j, k < bd; bd is a multiple of 8. Tiles of 2 lhs
// rows × 4 rhs rows keep 8 YMM accumulators of 8 partial sums each along k; each tile ends with a
// horizontal reduction into 2×4 outputs.
TEXT ·dotBlockFMA(SB), NOSPLIT, $0-32
	MOVQ lhs+0(FP), R10
	MOVQ rhs+8(FP), R15
	MOVQ out+16(FP), R12
	MOVQ bd+24(FP), CX
	MOVQ CX, R8
	SHLQ $2, R8               // R8: row stride in bytes
	IMULQ R8, CX              // CX: block size in bytes
	LEAQ (R10)(CX*1), R14     // R14: end of lhs
	LEAQ (R15)(CX*1), DX      // DX: end of rhs
	MOVQ R8, CX
	SHLQ $2, CX               // CX: 4 rows in bytes

iloop:
	LEAQ (R10)(R8*1), R11     // second lhs row
	MOVQ R12, R13             // output of this row pair, column j
	MOVQ R15, BX              // rhs row j

jloop:
	LEAQ (BX)(R8*1), R9       // rhs row j+1
	LEAQ (BX)(R8*2), AX       // rhs row j+2
	LEAQ (AX)(R8*1), DI       // rhs row j+3
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ SI, SI

kloop:
	VMOVUPS (R10)(SI*1), Y8
	VMOVUPS (R11)(SI*1), Y9
	VMOVUPS (BX)(SI*1), Y10
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y4
	VMOVUPS (R9)(SI*1), Y11
	VFMADD231PS Y8, Y11, Y1
	VFMADD231PS Y9, Y11, Y5
	VMOVUPS (AX)(SI*1), Y12
	VFMADD231PS Y8, Y12, Y2
	VFMADD231PS Y9, Y12, Y6
	VMOVUPS (DI)(SI*1), Y13
	VFMADD231PS Y8, Y13, Y3
	VFMADD231PS Y9, Y13, Y7
	ADDQ $32, SI
	CMPQ SI, R8
	JLT  kloop

	// Row i: X0 = [ΣY0, ΣY1, ΣY2, ΣY3].
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VADDPS (R13), X0, X0
	VMOVUPS X0, (R13)

	// Row i+1: X4 = [ΣY4, ΣY5, ΣY6, ΣY7].
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VADDPS (R13)(R8*1), X4, X4
	VMOVUPS X4, (R13)(R8*1)

	ADDQ $16, R13
	ADDQ CX, BX
	CMPQ BX, DX
	JLT  jloop

	LEAQ (R10)(R8*2), R10
	LEAQ (R12)(R8*2), R12
	CMPQ R10, R14
	JLT  iloop

	VZEROUPPER
	RET
