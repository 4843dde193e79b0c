package schemas

import (
	"regexp/syntax"
	"unicode/utf8"
)

// fastMatcher returns a matcher equivalent to the RE2 pattern pat for the common
// shape ^(class{n}|literal)…(class{m,n})?$ over ASCII (codes, identifiers:
// ^[A-Z]{3}$, ^[a-z0-9_]+$), or nil for any other pattern, which regexp then
// matches. Every element but the last has a fixed count, so matching needs no
// backtracking.
func fastMatcher(pat string) func(string) bool {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return nil
	}
	if re.Op != syntax.OpConcat || len(re.Sub) < 3 || re.Sub[0].Op != syntax.OpBeginText || re.Sub[len(re.Sub)-1].Op != syntax.OpEndText {
		return nil
	}
	type elem struct {
		set      [256]bool
		min, max int // max -1: unbounded
	}
	var elems []elem
	addClass := func(sub *syntax.Regexp, min, max int) bool {
		var e elem
		e.min, e.max = min, max
		switch sub.Op {
		case syntax.OpLiteral:
			if len(sub.Rune) != 1 || sub.Flags&syntax.FoldCase != 0 || sub.Rune[0] >= utf8.RuneSelf {
				return false
			}
			e.set[sub.Rune[0]] = true
		case syntax.OpCharClass:
			for i := 0; i+1 < len(sub.Rune); i += 2 {
				lo, hi := sub.Rune[i], sub.Rune[i+1]
				if hi >= utf8.RuneSelf {
					return false
				}
				for c := lo; c <= hi; c++ {
					e.set[c] = true
				}
			}
		default:
			return false
		}
		elems = append(elems, e)
		return true
	}
	mid := re.Sub[1 : len(re.Sub)-1]
	for i, sub := range mid {
		last := i == len(mid)-1
		switch sub.Op {
		case syntax.OpLiteral:
			if sub.Flags&syntax.FoldCase != 0 {
				return nil
			}
			for _, r := range sub.Rune {
				if !addClass(&syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{r}}, 1, 1) {
					return nil
				}
			}
		case syntax.OpCharClass:
			if !addClass(sub, 1, 1) {
				return nil
			}
		case syntax.OpRepeat, syntax.OpPlus, syntax.OpStar, syntax.OpQuest:
			min, max := sub.Min, sub.Max
			switch sub.Op {
			case syntax.OpPlus:
				min, max = 1, -1
			case syntax.OpStar:
				min, max = 0, -1
			case syntax.OpQuest:
				min, max = 0, 1
			}
			if (min != max && !last) || !addClass(sub.Sub[0], min, max) {
				return nil
			}
		default:
			return nil
		}
	}
	return func(s string) bool {
		i := 0
		for k := range elems {
			e := &elems[k]
			n := 0
			for (e.max < 0 || n < e.max) && i < len(s) && e.set[s[i]] {
				i++
				n++
			}
			if n < e.min {
				return false
			}
		}
		return i == len(s)
	}
}
