#include "textflag.h"

// func prefetch(p *uint64)
TEXT ·prefetch(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	RET

// func prefetchSpan(p *uint64, n uintptr, q *uint64)
TEXT ·prefetchSpan(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	MOVQ q+16(FP), BX
	PREFETCHT0 (BX)
	LEAQ -1(AX)(CX*1), DX // the span's last byte
loop:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	CMPQ AX, DX
	JBE  loop
	PREFETCHT0 (DX) // its line, when the lines above stepped past it
	RET
