package linkcheck

import (
	"net/url"
	"strings"
)

// Skip is a list of URLs never requested: a host pattern
// ("grafana.internal", "*.corp.example.com", "localhost") matches every
// URL of the hosts it names; a URL pattern ("https://wiki.example.com/private/*")
// matches whole URLs. '*' stands for any run of characters.
type Skip []string

// Match reports whether u is skipped.
func (s Skip) Match(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	hostname := strings.ToLower(pu.Hostname())
	for _, p := range s {
		if strings.Contains(p, "://") {
			if glob(p, u) {
				return true
			}
			continue
		}
		if glob(strings.ToLower(p), hostname) {
			return true
		}
	}
	return false
}

// glob matches s against pattern, where '*' is any run of characters.
func glob(pattern, s string) bool {
	star, back := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(pattern) && pattern[i] == '*':
			star, back = i, j
			i++
		case i < len(pattern) && pattern[i] == s[j]:
			i++
			j++
		case star >= 0:
			back++
			i, j = star+1, back
		default:
			return false
		}
	}
	for i < len(pattern) && pattern[i] == '*' {
		i++
	}
	return i == len(pattern)
}
