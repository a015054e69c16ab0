#include "textflag.h"

// func mixRowsAVX2(sums *[32]uint32, rows *byte, n int)
//
// The 32 lanes sit in four YMM registers of eight; each row's 32 words are xored in, multiplied
// by the FNV prime and xored with themselves shifted right by 17, as in mixRow.
TEXT ·mixRowsAVX2(SB), NOSPLIT, $0-24
	MOVQ sums+0(FP), AX
	MOVQ rows+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVDQU 0(AX), Y0
	VMOVDQU 32(AX), Y1
	VMOVDQU 64(AX), Y2
	VMOVDQU 96(AX), Y3
	VPBROADCASTD fnvprime<>(SB), Y15

loop:
	TESTQ CX, CX
	JZ    done
	VPXOR   0(SI), Y0, Y0
	VPXOR   32(SI), Y1, Y1
	VPXOR   64(SI), Y2, Y2
	VPXOR   96(SI), Y3, Y3
	VPMULLD Y15, Y0, Y4
	VPMULLD Y15, Y1, Y5
	VPMULLD Y15, Y2, Y6
	VPMULLD Y15, Y3, Y7
	VPSRLD  $17, Y0, Y0
	VPSRLD  $17, Y1, Y1
	VPSRLD  $17, Y2, Y2
	VPSRLD  $17, Y3, Y3
	VPXOR   Y4, Y0, Y0
	VPXOR   Y5, Y1, Y1
	VPXOR   Y6, Y2, Y2
	VPXOR   Y7, Y3, Y3
	ADDQ    $128, SI
	DECQ    CX
	JMP     loop

done:
	VMOVDQU Y0, 0(AX)
	VMOVDQU Y1, 32(AX)
	VMOVDQU Y2, 64(AX)
	VMOVDQU Y3, 96(AX)
	VZEROUPPER
	RET

DATA fnvprime<>+0(SB)/4, $16777619
GLOBL fnvprime<>(SB), RODATA|NOPTR, $4
