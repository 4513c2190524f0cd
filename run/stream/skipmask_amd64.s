//go:build goexperiment.simd

#include "textflag.h"

// classifyAVX2 is skipMasked's byte classes with AVX2, stored as
// blockMasks' fields in order (a test compares them with classifySWAR's for
// every byte at every position); written by hand because the compiler
// spilled its constants and halves to the stack on every block. Constants
// are memory operands, so that the data, its case-folded and digit-shifted
// forms stay in registers.

#define BCAST(name, v) \
	DATA name<>+0(SB)/8, $v \
	DATA name<>+8(SB)/8, $v \
	DATA name<>+16(SB)/8, $v \
	DATA name<>+24(SB)/8, $v \
	GLOBL name<>(SB), RODATA|NOPTR, $32

BCAST(cQuote, 0x2222222222222222)
BCAST(cBslash, 0x5c5c5c5c5c5c5c5c)
BCAST(cHi3, 0xe0e0e0e0e0e0e0e0)
BCAST(cLower, 0x2020202020202020)
BCAST(cCurlyO, 0x7b7b7b7b7b7b7b7b)
BCAST(cCurlyC, 0x7d7d7d7d7d7d7d7d)
BCAST(cColon, 0x3a3a3a3a3a3a3a3a)
BCAST(cComma, 0x2c2c2c2c2c2c2c2c)
BCAST(cZero, 0x3030303030303030)
BCAST(cNine, 0x0909090909090909)
BCAST(cMinus, 0x2d2d2d2d2d2d2d2d)
BCAST(cDot, 0x2e2e2e2e2e2e2e2e)
BCAST(cB, 0x6262626262626262)
BCAST(cR, 0x7272727272727272)
BCAST(cU, 0x7575757575757575)
BCAST(cA, 0x6161616161616161)
BCAST(cFive, 0x0505050505050505)

// MASK stores the 64-bit mask of the byte compares in Y2 (bytes 0-31)
// and Y3 (32-63) at off(DI), and leaves it in AX.
#define MASK(off) \
	VPMOVMSKB Y2, AX \
	VPMOVMSKB Y3, BX \
	SHLQ $32, BX \
	ORQ BX, AX \
	MOVQ AX, off(DI)

// EQ compares both halves with the constant c.
#define EQ(c, off) \
	VPCMPEQB c<>(SB), Y0, Y2 \
	VPCMPEQB c<>(SB), Y1, Y3 \
	MASK(off)

// RANGE sets Y2, Y3 to the bytes of x0, x1 with x-lo <= n (unsigned),
// leaving x-lo in d0, d1.
#define RANGE(x0, x1, lo, n, d0, d1) \
	VPSUBB lo<>(SB), x0, d0 \
	VPSUBB lo<>(SB), x1, d1 \
	VPMINUB n<>(SB), d0, Y2 \
	VPMINUB n<>(SB), d1, Y3 \
	VPCMPEQB d0, Y2, Y2 \
	VPCMPEQB d1, Y3, Y3

// func classifyAVX2(b *byte, nb int, ms *blockMasks)
TEXT ·classifyAVX2(SB), NOSPLIT, $0-24
	MOVQ b+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ ms+16(FP), DI
	VPXOR Y15, Y15, Y15
	VMOVDQU ·spaceTable(SB), Y14
	VMOVDQU ·escTable(SB), Y13

loop:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	EQ(cQuote, 0)
	EQ(cBslash, 8)
	MOVQ AX, R8

	// ctrl: the top three bits clear
	VPAND cHi3<>(SB), Y0, Y2
	VPAND cHi3<>(SB), Y1, Y3
	VPCMPEQB Y15, Y2, Y2
	VPCMPEQB Y15, Y3, Y3
	MASK(16)

	// space: spaceTable[c&15] == c
	VPSHUFB Y0, Y14, Y2
	VPSHUFB Y1, Y14, Y3
	VPCMPEQB Y0, Y2, Y2
	VPCMPEQB Y1, Y3, Y3
	MASK(24)

	// brackets: c|0x20 is '{' or '}' for both kinds (Y4, Y5 kept)
	VPOR cLower<>(SB), Y0, Y4
	VPOR cLower<>(SB), Y1, Y5
	VPCMPEQB cCurlyO<>(SB), Y4, Y2
	VPCMPEQB cCurlyO<>(SB), Y5, Y3
	MASK(32)
	VPCMPEQB cCurlyC<>(SB), Y4, Y2
	VPCMPEQB cCurlyC<>(SB), Y5, Y3
	MASK(40)

	EQ(cColon, 48)
	EQ(cComma, 56)

	// digit: c-'0' <= 9 unsigned (Y6, Y7 kept); zero: c-'0' == 0
	RANGE(Y0, Y1, cZero, cNine, Y6, Y7)
	MASK(64)
	MOVQ AX, R9
	VPCMPEQB Y15, Y6, Y2
	VPCMPEQB Y15, Y7, Y3
	MASK(72)

	EQ(cMinus, 80)
	EQ(cDot, 88)

	// The escape classes only where there is a backslash.
	TESTQ R8, R8
	JZ next

	// escapable: escTable[c&15] == c, or 'b', or 'r'
	VPSHUFB Y0, Y13, Y2
	VPSHUFB Y1, Y13, Y3
	VPCMPEQB Y0, Y2, Y2
	VPCMPEQB Y1, Y3, Y3
	VPCMPEQB cB<>(SB), Y0, Y8
	VPCMPEQB cB<>(SB), Y1, Y9
	VPOR Y8, Y2, Y2
	VPOR Y9, Y3, Y3
	VPCMPEQB cR<>(SB), Y0, Y8
	VPCMPEQB cR<>(SB), Y1, Y9
	VPOR Y8, Y2, Y2
	VPOR Y9, Y3, Y3
	MASK(96)

	// hex: a digit, or (c|0x20)-'a' <= 5 unsigned
	RANGE(Y4, Y5, cA, cFive, Y8, Y9)
	MASK(104)
	ORQ R9, AX
	MOVQ AX, 104(DI)

	EQ(cU, 112)

next:
	ADDQ $64, SI
	ADDQ $120, DI
	DECQ CX
	JNZ loop
	VZEROUPPER
	RET
