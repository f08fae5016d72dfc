package content

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Plans (what `gameday due` drills) follows the site's scan and draft
// rule: no dot folders, no editor files, .md in any case, no drafts.
func TestPlansFollowTheSiteScan(t *testing.T) {
	root := t.TempDir()
	plan := "---\ntitle: p\nkind: rollout\ngameday: {schedule: \"0 10 * * TUE\", scenarios: [healthy-canary]}\n---\n"
	for name, src := range map[string]string{
		"content/payments/api.md":    plan,
		"content/payments/UPPER.MD":  plan,
		"content/payments/draft.md":  "---\ntitle: d\nkind: rollout\ndraft: true\n---\n",
		"content/.hidden/secret.md":  plan,
		"content/payments/.swap.md":  plan,
		"content/payments/api.md~":   plan,
		"content/payments/#api.md#":  plan,
		"content/payments/notes.txt": "not markdown",
		"content/payments/broken.md": "---\ntitle: x\nkind: [rollout\n---\n",
	} {
		f := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		drafts bool
		want   []string
	}{
		{false, []string{"content/payments/UPPER.MD", "content/payments/api.md"}},
		{true, []string{"content/payments/UPPER.MD", "content/payments/api.md", "content/payments/draft.md"}},
	} {
		ps, ds, err := Plans(context.Background(), filepath.Join(root, "content"), "content", tc.drafts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.File)
			if p.Plan.Path != p.File {
				t.Errorf("%s parsed as %s", p.File, p.Plan.Path)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("drafts %v: plans %v, want %v", tc.drafts, got, tc.want)
		}
		if len(ds) != 1 || ds[0].File != "content/payments/broken.md" {
			t.Errorf("findings %v, want one for broken.md", ds)
		}
	}
}
