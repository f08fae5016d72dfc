package gameday

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestScheduledPlans: the plans to drill are the site's (its scan and
// draft rule) that have a schedule, named from the project root; a file
// that does not parse is a finding, not an error.
func TestScheduledPlans(t *testing.T) {
	root := t.TempDir()
	scheduled := "---\ntitle: p\nkind: rollout\ngameday: {schedule: \"0 10 * * TUE\", scenarios: [healthy-canary]}\n---\n"
	for name, src := range map[string]string{
		"runbooks/payments/api.md":     scheduled,
		"runbooks/payments/plain.md":   "---\ntitle: p\nkind: rollout\n---\n",
		"runbooks/payments/draft.md":   strings.Replace(scheduled, "kind: rollout", "kind: rollout\ndraft: true", 1),
		"runbooks/.old/api.md":         scheduled,
		"runbooks/payments/broken.md":  "---\ntitle: x\nkind: [rollout\n---\n",
		"runbooks/payments/api.md.bak": scheduled,
	} {
		f := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plans, ds, err := ScheduledPlans(context.Background(), filepath.Join(root, "runbooks"), "runbooks")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for f := range plans {
		files = append(files, f)
	}
	if !slices.Equal(files, []string{"runbooks/payments/api.md"}) {
		t.Errorf("scheduled plans %v, want runbooks/payments/api.md", files)
	}
	if len(ds) != 1 || ds[0].File != "runbooks/payments/broken.md" {
		t.Errorf("findings %v, want one for broken.md", ds)
	}
}

// TestDueListsWithoutRendering: deciding what is due reads plans and
// reports only; the site's Markdown and highlighting (goldmark, chroma)
// are no part of the drill binary's path to it.
func TestDueListsWithoutRendering(t *testing.T) {
	// go test puts the go command that runs it first on PATH.
	out, err := exec.Command("go", "list", "-deps", "github.com/rollbook/rollbook/gameday").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{"github.com/yuin/goldmark", "github.com/alecthomas/chroma"} {
			if strings.HasPrefix(dep, heavy) {
				t.Errorf("gameday depends on %s", dep)
			}
		}
	}
}
