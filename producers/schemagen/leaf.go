package schemagen

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/sluicehq/sluice/schemas"
)

// cell is one column's value as the truth sees it: canonical text (ClickHouse's
// toString of the stored value) and, for a number, its exact value.
type cell struct {
	text string
	num  *dec
}

// kind is how a leaf property's values are made.
type kind uint8

const (
	kString kind = iota
	kEnum
	kDateTime // RFC 3339 string
	kEpoch    // integer Unix seconds or milliseconds (x-sluice-time)
	kInteger
	kDecimal
	kFloat // multiples of 0.25
	kBool
)

// leaf generates the values of one scalar property.
type leaf struct {
	p      schemas.Property
	kind   kind
	scale  int   // kDecimal: fraction digits; kFloat: 2 (values in hundredths, multiples of 25)
	step   int64 // kFloat: 25; otherwise 1
	lo, hi int64 // unscaled bounds, inclusive
	pat    *pattern
	minLen int
	maxLen int
	// over is a number just beyond the schema's bounds ("" without bounds), for
	// out_of_range records.
	over string
	// pool, when set, holds the only values used (a rollup dimension's few keys).
	pool []choice
}

// choice is one ready value: its JSON text and its cell.
type choice struct {
	json string
	cell cell
}

// chType is the column type without LowCardinality( ) and Nullable( ).
func chType(p schemas.Property) string {
	t := p.ClickHouse
	for _, w := range []string{"LowCardinality(", "Nullable("} {
		if strings.HasPrefix(t, w) {
			t = strings.TrimSuffix(strings.TrimPrefix(t, w), ")")
		}
	}
	return t
}

// newLeaf prepares the generator of a scalar property; maxString is the
// deployment's string limit (a property's default maxLength).
func newLeaf(p schemas.Property, maxString int) (*leaf, error) {
	l := &leaf{p: p, step: 1}
	ct := chType(p)
	switch {
	case p.Type == "boolean":
		l.kind = kBool
	case (p.Type == "number" || p.Type == "string") && strings.HasPrefix(ct, "Decimal"):
		l.kind = kDecimal
		l.scale = decimalScale(ct)
	case p.Type == "string" && len(p.Enum) > 0:
		l.kind = kEnum
	case p.Type == "string" && p.Format == "date-time":
		l.kind = kDateTime
	case p.Type == "string":
		l.kind = kString
		l.minLen, l.maxLen = max(p.MinLength, 1), p.MaxLength
		if l.maxLen == 0 {
			l.maxLen = maxString
		}
		if p.Pattern != "" {
			pat, err := newPattern(p.Pattern)
			if err != nil {
				return nil, fmt.Errorf("%s: pattern: %w", p.Path, err)
			}
			l.pat = pat
		}
	case p.Type == "integer" && p.Time != "":
		l.kind = kEpoch
	case p.Type == "integer":
		l.kind = kInteger
	case p.Type == "number":
		l.kind, l.scale, l.step = kFloat, 2, 25
	default:
		return nil, fmt.Errorf("%s: type %q is not a scalar", p.Path, p.Type)
	}
	if l.kind == kInteger || l.kind == kDecimal || l.kind == kFloat {
		if err := l.bounds(ct); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// decimalScale reads S of Decimal(P, S) (also Decimal32(S) and the like).
func decimalScale(t string) int {
	args := t[strings.IndexByte(t, '(')+1 : len(t)-1]
	if strings.HasPrefix(t, "Decimal(") {
		i := strings.LastIndexByte(args, ',')
		if i < 0 {
			return 0
		}
		args = args[i+1:]
	}
	s, _ := strconv.Atoi(strings.TrimSpace(args))
	return s
}

// bounds sets l.lo and l.hi in units of 10^-scale from the schema's bounds, the
// column type's range, and a default span of a million.
func (l *leaf) bounds(ct string) error {
	unit := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(l.scale)), nil))
	quarter := l.kind == kFloat
	if quarter {
		unit = big.NewRat(4, 1) // floats are drawn in quarters
	}
	conv := func(s string, up, exclusive bool) (*big.Int, bool) {
		if s == "" {
			return nil, false
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return nil, false
		}
		r.Mul(r, unit)
		q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int)) // floor
		exact := m.Sign() == 0
		switch {
		case up && exclusive:
			q.Add(q, big.NewInt(1))
		case up && !exact:
			q.Add(q, big.NewInt(1))
		case !up && exclusive && exact:
			q.Sub(q, big.NewInt(1))
		}
		return q, true
	}
	lo, hasLo := conv(l.p.Minimum, true, false)
	if x, ok := conv(l.p.ExclusiveMinimum, true, true); ok && (!hasLo || x.Cmp(lo) > 0) {
		lo, hasLo = x, true
	}
	hi, hasHi := conv(l.p.Maximum, false, false)
	if x, ok := conv(l.p.ExclusiveMaximum, false, true); ok && (!hasHi || x.Cmp(hi) < 0) {
		hi, hasHi = x, true
	}
	// JSON text of unscaled units: quarters for floats, 10^-scale otherwise.
	text := func(u *big.Int) string {
		if quarter {
			return canonical(new(big.Int).Mul(u, big.NewInt(25)), 2)
		}
		return canonical(u, l.scale)
	}
	switch {
	case hasHi:
		l.over = text(new(big.Int).Add(hi, big.NewInt(1)))
	case hasLo:
		l.over = text(new(big.Int).Sub(lo, big.NewInt(1)))
	}
	span := new(big.Int).Mul(big.NewInt(1_000_000), new(big.Int).Div(unit.Num(), unit.Denom()))
	switch {
	case !hasLo && !hasHi:
		lo, hi = big.NewInt(0), span
	case !hasLo:
		lo = new(big.Int).Sub(hi, span)
	case !hasHi:
		hi = new(big.Int).Add(lo, span)
	}
	if tlo, thi, ok := typeRange(ct); ok {
		tlo.Mul(tlo, new(big.Int).Div(unit.Num(), unit.Denom()))
		thi.Mul(thi, new(big.Int).Div(unit.Num(), unit.Denom()))
		if lo.Cmp(tlo) < 0 {
			lo = tlo
		}
		if hi.Cmp(thi) > 0 {
			hi = thi
		}
	}
	// Keep the span within a million units of the low end (sums stay far from
	// any overflow and the values stay readable).
	if d := new(big.Int).Sub(hi, lo); d.Cmp(span) > 0 {
		hi = new(big.Int).Add(lo, span)
	}
	if lo.Cmp(hi) > 0 || !lo.IsInt64() || !hi.IsInt64() {
		return fmt.Errorf("%s: no %s value fits the bounds", l.p.Path, l.p.Type)
	}
	l.lo, l.hi = lo.Int64(), hi.Int64()
	if quarter {
		l.lo, l.hi = l.lo*25, l.hi*25 // quarters to hundredths
	}
	return nil
}

// typeRange is the value range of an integer or decimal column type.
func typeRange(ct string) (lo, hi *big.Int, ok bool) {
	bits := map[string]uint{"Int8": 8, "Int16": 16, "Int32": 32, "Int64": 64, "UInt8": 8, "UInt16": 16, "UInt32": 32, "UInt64": 64}
	if n, ok := bits[ct]; ok {
		one := big.NewInt(1)
		if strings.HasPrefix(ct, "U") {
			return big.NewInt(0), new(big.Int).Sub(new(big.Int).Lsh(one, n), one), true
		}
		m := new(big.Int).Lsh(one, n-1)
		return new(big.Int).Neg(m), new(big.Int).Sub(m, one), true
	}
	if strings.HasPrefix(ct, "Decimal(") && strings.Contains(ct, ",") {
		p, _ := strconv.Atoi(strings.TrimSpace(ct[len("Decimal("):strings.IndexByte(ct, ',')]))
		s := decimalScale(ct)
		m := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p-s)), nil)
		return new(big.Int).Neg(new(big.Int).Sub(m, big.NewInt(1))), new(big.Int).Sub(m, big.NewInt(1)), true
	}
	return nil, nil, false
}

// gen returns a random value; at is the time a time-valued property takes.
func (l *leaf) gen(rng *rand.Rand, at time.Time) (choice, error) {
	if len(l.pool) > 0 {
		return l.pool[rng.IntN(len(l.pool))], nil
	}
	return l.fresh(rng, at)
}

// fresh is gen without the pool.
func (l *leaf) fresh(rng *rand.Rand, at time.Time) (choice, error) {
	switch l.kind {
	case kBool:
		b := rng.IntN(2) == 0
		return choice{strconv.FormatBool(b), cell{text: strconv.FormatBool(b)}}, nil
	case kEnum:
		s := l.p.Enum[rng.IntN(len(l.p.Enum))]
		return choice{quote(s), cell{text: s}}, nil
	case kDateTime:
		at = at.UTC().Truncate(time.Millisecond)
		return choice{quote(at.Format("2006-01-02T15:04:05.000Z07:00")), timeCell(at)}, nil
	case kEpoch:
		at = at.UTC().Truncate(time.Millisecond)
		if l.p.Time == "unix_s" {
			at = at.Truncate(time.Second)
			return choice{strconv.FormatInt(at.Unix(), 10), timeCell(at)}, nil
		}
		return choice{strconv.FormatInt(at.UnixMilli(), 10), timeCell(at)}, nil
	case kString:
		var s string
		if l.pat != nil {
			var err error
			if s, err = l.pat.gen(rng, l.minLen, l.maxLen); err != nil {
				return choice{}, fmt.Errorf("%s: %w", l.p.Path, err)
			}
		} else {
			n := l.minLen + rng.IntN(min(l.maxLen, l.minLen+12)-l.minLen+1)
			b := make([]byte, n)
			for i := range b {
				b[i] = alnum[rng.IntN(len(alnum))]
			}
			s = string(b)
		}
		return choice{quote(s), cell{text: s}}, nil
	}
	// Numbers: unscaled in [lo, hi], floats in multiples of step.
	v := l.lo + rng.Int64N((l.hi-l.lo)/l.step+1)*l.step
	d := dec{big.NewInt(v), l.scale}
	switch l.kind {
	case kInteger:
		return choice{strconv.FormatInt(v, 10), cell{text: d.String(), num: &d}}, nil
	case kDecimal:
		text := pointed(big.NewInt(v), l.scale)
		if l.p.Type == "string" {
			text = quote(text) // a decimal declared as a string
		}
		return choice{text, cell{text: d.String(), num: &d}}, nil
	}
	return choice{d.String(), cell{text: d.String(), num: &d}}, nil
}

// timeCell is a DateTime64(3, 'UTC') value as ClickHouse's toString prints it.
func timeCell(t time.Time) cell {
	return cell{text: t.UTC().Format("2006-01-02 15:04:05.000")}
}

// zero is the cell of an absent property: its column's default.
func zero(p schemas.Property) cell {
	switch ct := chType(p); {
	case p.Type == "boolean":
		return cell{text: "false"}
	case strings.HasPrefix(ct, "DateTime"):
		return timeCell(time.Unix(0, 0))
	case p.Type == "integer" || p.Type == "number":
		d := dec{big.NewInt(0), 0}
		return cell{text: "0", num: &d}
	}
	return cell{text: ""}
}

// count is the cell of a map's or array's number of entries.
func count(n int64) cell {
	d := dec{big.NewInt(n), 0}
	return cell{text: d.String(), num: &d}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
