package diag

import "testing"

func TestAt(t *testing.T) {
	for _, tt := range []struct {
		f    Finding
		want string
	}{
		{At("content/a.md", 3, 7).Error("url", "bad url", "use /a/"), "content/a.md:3:7: error url: bad url; use /a/"},
		{At("content/a.md", 4, 0).As(Warning, "stale", "old", ""), "content/a.md:4: warning stale: old"},
	} {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("%#v prints %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"title", "kind", "rollback", "Triggers"}
	for _, tt := range []struct {
		s      string
		within int
		want   string
	}{
		{"titel", 3, "title"},
		{"TITLE", 3, "title"},
		{"trigers", 3, "Triggers"},
		{"rolback", 3, "rollback"},
		{"owners", 3, ""},
		{"kinx", 2, "kind"},
		{"kixx", 2, ""},
	} {
		if got := Closest(tt.s, names, tt.within); got != tt.want {
			t.Errorf("Closest(%q, %d) = %q, want %q", tt.s, tt.within, got, tt.want)
		}
	}
}
