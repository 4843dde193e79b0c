#include "textflag.h"

// func prefetch(p *uint64)
TEXT ·prefetch(SB), NOSPLIT, $0-8
	MOVD p+0(FP), R0
	PRFM (R0), PLDL1KEEP
	RET

// func prefetchSpan(p *uint64, n uintptr, q *uint64)
TEXT ·prefetchSpan(SB), NOSPLIT, $0-24
	MOVD p+0(FP), R0
	MOVD n+8(FP), R1
	MOVD q+16(FP), R3
	PRFM (R3), PLDL1KEEP
	ADD  R1, R0, R2
	SUB  $1, R2 // the span's last byte
loop:
	PRFM (R0), PLDL1KEEP
	ADD  $64, R0
	CMP  R2, R0
	BLS  loop
	PRFM (R2), PLDL1KEEP // its line, when the lines above stepped past it
	RET
