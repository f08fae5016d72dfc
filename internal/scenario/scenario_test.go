package scenario

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	seen := map[Name]bool{}
	for _, s := range All {
		if seen[s.Name] {
			t.Errorf("%s twice", s.Name)
		}
		seen[s.Name] = true
		if s.Summary == "" || len(s.Asserts) == 0 {
			t.Errorf("%s: a scenario needs a summary and assertions", s.Name)
		}
		if s.PageReason != "" && !s.Page {
			t.Errorf("%s: a page reason without a page", s.Name)
		}
		for _, n := range s.Needs {
			if NeedText[n].Fix == "" {
				t.Errorf("%s: need %d has no fix text", s.Name, n)
			}
		}
		if !strings.Contains(Help(), string(s.Name)) {
			t.Errorf("help lacks %s", s.Name)
		}
	}
	if _, err := Lookup("bad-canary"); err == nil || !strings.Contains(err.Error(), "bad-canary-errors") {
		t.Errorf("Lookup of an unknown name: %v", err)
	}
}
