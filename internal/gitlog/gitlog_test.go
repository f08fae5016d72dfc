package gitlog

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestLastChanged makes a checkout with two commits and reads it back:
// each file has the time of the last commit that touched it, paths are
// relative to the folder asked for, and files outside it are left out.
func TestLastChanged(t *testing.T) {
	dir := t.TempDir()
	git := func(date string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(rel, s string) {
		t.Helper()
		f := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("", "init", "-q")
	write("docs/a.md", "a")
	write("docs/sub/b é.md", "b")
	write("scripts/x.sh", "x")
	git("2026-11-01T10:00:00Z", "add", ".")
	git("2026-11-01T10:00:00Z", "commit", "-qm", "one")
	write("docs/a.md", "a2")
	git("2026-11-20T09:30:00Z", "commit", "-qam", "two")

	got, err := LastChanged(context.Background(), filepath.Join(dir, "docs"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{
		"a.md":       time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC),
		"sub/b é.md": time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, w := range want {
		if !got[k].Equal(w) {
			t.Errorf("%s: %v, want %v", k, got[k], w)
		}
	}

	if _, err := LastChanged(context.Background(), t.TempDir()); err == nil {
		t.Error("a folder outside any checkout gave no error")
	}
}
