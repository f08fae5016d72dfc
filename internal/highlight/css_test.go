package highlight

import (
	"strings"
	"testing"
)

// TestCSS: the light style applies as it is, and every rule of the dark
// style is scoped to a dark page: the reader's system preference (unless
// the page is forced light) or the page switched to dark.
func TestCSS(t *testing.T) {
	css := string(CSS())
	light, dark, ok := strings.Cut(css, "@media (prefers-color-scheme: dark) {\n")
	if !ok || !strings.Contains(light, "*/ .chroma {") {
		t.Fatalf("no light style, or no dark media query:\n%.600s", css)
	}
	// The media query closes on a line of its own; each rule is one line.
	media, switched, ok := strings.Cut(dark, "\n}\n")
	if !ok {
		t.Fatalf("the dark media query does not close:\n%.600s", dark)
	}
	for what, scope := range map[string]struct{ rules, prefix string }{
		"preferred": {media, ":root:not([data-theme=light]) ."},
		"switched":  {switched, "[data-theme=dark] ."},
	} {
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(scope.rules), "\n") {
			rule := line
			if strings.HasPrefix(rule, "/*") {
				_, rule, _ = strings.Cut(rule, "*/ ")
			}
			if !strings.HasPrefix(rule, scope.prefix) {
				t.Errorf("%s dark rule not scoped by %q: %s", what, scope.prefix, line)
			}
			n++
		}
		if n < 20 {
			t.Errorf("%s dark style: %d rules", what, n)
		}
	}
}
