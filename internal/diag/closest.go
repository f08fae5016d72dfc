package diag

import "strings"

// Closest is the name in names nearest to s, ignoring case, when it is
// fewer than within edits away, or "" when none is: the "did you mean"
// of a finding's fix. Of names equally near, the first wins.
func Closest(s string, names []string, within int) string {
	best, bestD := "", within
	s = strings.ToLower(s)
	for _, n := range names {
		if d := EditDistance(s, strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in bytes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
