package content

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rollbook/rollbook/internal/plan"
)

// TestScan: one rule leaves out dot files and folders and editor files;
// .md in any case is a page, anything else an asset, both sorted by slash
// path; symlinks are never followed, and those that lead outside are
// named.
func TestScan(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "content")
	for _, name := range []string{
		"a/x.md", "a-b/x.md", "a/UPPER.MD", "a/q.sql", "a/diagram.svg",
		".git/config", "a/.hidden.md", "a/.swap.sql", "a/x.md~", "a/#x.md#", ".drafts/y.md",
	} {
		f := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "secret.md"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{"a/outside.md": "../../secret.md", "a/inside.md": "x.md"} {
		if err := os.Symlink(to, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Scan(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	rels := func(ss []Source) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Rel)
			if s.Abs != filepath.Join(dir, filepath.FromSlash(s.Rel)) || s.Size != 1 {
				t.Errorf("%s: at %s, %d bytes", s.Rel, s.Abs, s.Size)
			}
		}
		return out
	}
	if got, want := rels(l.Pages), []string{"a-b/x.md", "a/UPPER.MD", "a/x.md"}; !slices.Equal(got, want) {
		t.Errorf("pages %v, want %v", got, want)
	}
	if got, want := rels(l.Assets), []string{"a/diagram.svg", "a/q.sql"}; !slices.Equal(got, want) {
		t.Errorf("assets %v, want %v", got, want)
	}
	if len(l.Refused) != 1 || l.Refused[0].Rel != "a/outside.md" {
		t.Errorf("refused %v, want a/outside.md alone", l.Refused)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, dir); err == nil {
		t.Error("a cancelled scan gave no error")
	}
	if _, err := Scan(context.Background(), filepath.Join(root, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing folder: %v", err)
	}
}

func TestShown(t *testing.T) {
	for _, tc := range []struct {
		p      *plan.Plan
		drafts bool
		want   bool
	}{
		{&plan.Plan{}, false, true},
		{&plan.Plan{Draft: true}, false, false},
		{&plan.Plan{Draft: true}, true, true},
		{nil, true, false},
	} {
		if got := Shown(tc.p, tc.drafts); got != tc.want {
			t.Errorf("Shown(draft %v, drafts %v) = %v", tc.p != nil && tc.p.Draft, tc.drafts, got)
		}
	}
}
