package schemagen

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strings"
)

// pattern generates strings matching an RE2 pattern from its syntax tree.
type pattern struct {
	src  string
	re   *regexp.Regexp
	tree *syntax.Regexp
}

func newPattern(src string) (*pattern, error) {
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, err
	}
	tree, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, err
	}
	return &pattern{src: src, re: re, tree: tree.Simplify()}, nil
}

// gen returns a string the pattern matches whose length is in [minLen, maxLen]
// bytes, or an error after enough failed attempts.
func (p *pattern) gen(rng *rand.Rand, minLen, maxLen int) (string, error) {
	for range 200 {
		var sb strings.Builder
		walk(rng, p.tree, &sb)
		s := sb.String()
		// An unanchored pattern matches within a longer string: pad to the
		// minimum length with a character it allows after the match.
		if len(s) < minLen && !strings.HasSuffix(p.src, "$") {
			s += strings.Repeat("a", minLen-len(s))
		}
		if len(s) >= minLen && len(s) <= maxLen && p.re.MatchString(s) {
			return s, nil
		}
	}
	return "", fmt.Errorf("cannot generate a string of %d to %d bytes matching pattern %q; simplify the pattern or loosen minLength/maxLength", minLen, maxLen, p.src)
}

// walk appends one random match of re to sb. Repetitions without an upper bound
// repeat at most three times more than their minimum.
func walk(rng *rand.Rand, re *syntax.Regexp, sb *strings.Builder) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && rng.IntN(2) == 0 {
				r = []rune(strings.ToUpper(string(r)))[0]
			}
			sb.WriteRune(r)
		}
	case syntax.OpCharClass:
		sb.WriteRune(classRune(rng, re.Rune))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		sb.WriteByte(alnum[rng.IntN(len(alnum))])
	case syntax.OpCapture:
		walk(rng, re.Sub[0], sb)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			walk(rng, s, sb)
		}
	case syntax.OpAlternate:
		walk(rng, re.Sub[rng.IntN(len(re.Sub))], sb)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := re.Min, re.Max
		switch re.Op {
		case syntax.OpStar:
			lo, hi = 0, -1
		case syntax.OpPlus:
			lo, hi = 1, -1
		case syntax.OpQuest:
			lo, hi = 0, 1
		}
		if hi < 0 {
			hi = lo + 3
		}
		for range lo + rng.IntN(hi-lo+1) {
			walk(rng, re.Sub[0], sb)
		}
	}
	// Anchors, word boundaries and empty matches add nothing.
}

// classRune picks a rune of a character class (pairs of inclusive ranges),
// preferring printable ASCII when the class has some.
func classRune(rng *rand.Rand, ranges []rune) rune {
	var ascii []rune
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := max(ranges[i], 0x21), min(ranges[i+1], 0x7e)
		if lo <= hi {
			ascii = append(ascii, lo, hi)
		}
	}
	if len(ascii) > 0 {
		ranges = ascii
	}
	if len(ranges) == 0 {
		return 'a'
	}
	i := 2 * rng.IntN(len(ranges)/2)
	return ranges[i] + rune(rng.IntN(int(ranges[i+1]-ranges[i])+1))
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
