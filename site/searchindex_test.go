package site

import (
	"strings"
	"testing"
)

// FuzzCollapseSpace checks the one-pass whitespace collapse against its
// plain definition.
func FuzzCollapseSpace(f *testing.F) {
	for _, s := range []string{"", "  a  b\n\tc  ", "\u00a0x\u0085y\u3000", "a\xffb \xff", "one"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := collapseSpace(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("collapseSpace(%q) = %q, want %q", s, got, want)
		}
	})
}
