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
