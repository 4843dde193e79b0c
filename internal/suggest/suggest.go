// Package suggest finds the name a person probably meant: the known variable for a
// mistyped SLUICE_* variable, the existing topic for a mistyped topic.
//
// It is pure and safe for concurrent use. Its cost is quadratic in the lengths of
// the names and linear in the candidates, for messages, not for a hot path.
//
//	if near, ok := suggest.Closest("paymnets", topics); ok {
//		log.Warn("topic does not exist", "topic", "paymnets", "closest", near)
//	}
package suggest

// Closest returns the candidate nearest to name by Distance, if one is near enough
// to be what was meant: at most a third of name's length apart, and at least two
// edits allowed. Of equally near candidates the first wins; name itself never is one.
func Closest(name string, candidates []string) (string, bool) {
	limit := max(2, len([]rune(name))/3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		if d := Distance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best, best != ""
}

// Distance is the number of single-character insertions, deletions, substitutions
// and swaps of two neighbours that turn a into b (the optimal string alignment
// distance): "paymnets" is 1 from "payments".
func Distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// Three rows of the dynamic-programming table: two back, one back, this one.
	prev2 := make([]int, len(t)+1)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}
