package schemagen

import (
	"math/big"
	"strings"
)

// dec is an exact decimal: unscaled / 10^scale.
type dec struct {
	unscaled *big.Int
	scale    int
}

// String is the canonical text of d: no trailing fraction zeros, no "-0"
// (ClickHouse's toString of a Decimal or Float64 with the same value).
func (d dec) String() string { return canonical(d.unscaled, d.scale) }

func canonical(v *big.Int, scale int) string {
	return trimZeros(pointed(v, scale))
}

// pointed formats v/10^scale with exactly scale fraction digits.
func pointed(v *big.Int, scale int) string {
	digits := new(big.Int).Abs(v).String()
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if v.Sign() < 0 {
		return "-" + digits
	}
	return digits
}

// rescale returns d's unscaled value at scale s ≥ d.scale.
func (d dec) rescale(s int) *big.Int {
	return new(big.Int).Mul(d.unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s-d.scale)), nil))
}

// cmp compares two decimals.
func (d dec) cmp(e dec) int {
	if d.scale == e.scale {
		return d.unscaled.Cmp(e.unscaled)
	}
	s := max(d.scale, e.scale)
	return d.rescale(s).Cmp(e.rescale(s))
}

// add returns d + e.
func (d dec) add(e dec) dec {
	if d.scale == e.scale {
		return dec{new(big.Int).Add(d.unscaled, e.unscaled), d.scale}
	}
	s := max(d.scale, e.scale)
	return dec{new(big.Int).Add(d.rescale(s), e.rescale(s)), s}
}

// Canonical rewrites a number as ClickHouse's toString prints it (no trailing
// fraction zeros, no exponent, "-0" as "0"), so that numbers read back from
// ClickHouse compare with the truth's text; text that is not a plain decimal
// number is returned unchanged.
func Canonical(s string) string {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	// Decimal text has a power-of-ten denominator: 40 digits hold it exactly.
	return trimZeros(r.FloatString(40))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}
