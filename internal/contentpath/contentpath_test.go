package contentpath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCheck(t *testing.T) {
	base := t.TempDir()
	content := filepath.Join(base, "content")
	for _, d := range []string{"content/m", "outside"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"content/m/a.sql", "outside/secret.sql"} {
		if err := os.WriteFile(filepath.Join(base, f), []byte("select 1;"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"content/m/inside.sql":  "a.sql",
		"content/m/outside.sql": "../../outside/secret.sql",
		"content/out":           "../outside",
	}
	for link, target := range links {
		if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		rel     string
		outside bool
		missing bool
	}{
		{"m/a.sql", false, false},
		{"m/inside.sql", false, false},
		{"m/outside.sql", true, false},
		{"out/secret.sql", true, false},
		{"m/none.sql", false, true},
	}
	for _, tt := range tests {
		err := Check(content, tt.rel)
		if IsOutside(err) != tt.outside || errors.Is(err, fs.ErrNotExist) != tt.missing || !tt.outside && !tt.missing && err != nil {
			t.Errorf("Check(%s) = %v", tt.rel, err)
		}
	}
}
