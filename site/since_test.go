package site

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSince: a checkout in a subfolder of its repository, where pages
// were moved (git mv), renamed by slug:, deleted or lost an alias since
// the ref: each old URL with no page or alias now is reported at the page
// that took its place, with the alias to add; one moved with its alias is not.
func TestSince(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	repo := t.TempDir()
	root := filepath.Join(repo, "ops", "runbooks")
	files := map[string]string{
		"rollbook.yaml":         "title: t\n",
		"content/a.md":          "# A\n",
		"content/ops/b.md":      "# B\n",
		"content/c.md":          "# C\n",
		"content/d.md":          "---\ntitle: D\n---\n",
		"content/e.md":          "---\ntitle: E\naliases: [/legacy/e/]\n---\n",
		"content/keep/index.md": "# Keep\n",
	}
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "runbooks")
	git("tag", "v1")
	c := "ops/runbooks/content/"
	git("mv", c+"a.md", c+"moved-a.md")        // moved: /a/ gone
	git("mv", c+"ops/b.md", c+"platform-b.md") // moved, with its alias below
	git("rm", "-q", c+"c.md")                  // deleted
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(root, "content", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("platform-b.md", "---\ntitle: B\naliases: [/ops/b/]\n---\n")
	write("d.md", "---\ntitle: D\nslug: dee\n---\n")          // renamed by slug
	write("e.md", "---\ntitle: E\naliases: [/e-old/]\n---\n") // lost /legacy/e/
	git("commit", "-qam", "reorganise")

	ds, err := Check(context.Background(), Options{Root: root, Now: testNow, Since: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range ds {
		if f.Rule == "lost-url" {
			got = append(got, f.String())
		}
	}
	want := []string{
		"content/c.md:1:1: error lost-url: URL /c/ (content/c.md at v1) reaches no page now: the page was deleted; add aliases: [/c/] to the front matter of the page that replaces it",
		"content/d.md:3:7: error lost-url: URL /d/, which the site had at v1, reaches no page now: content/d.md is at /dee/ now; add aliases: [/d/] to the front matter of content/d.md",
		"content/e.md:3:10: error lost-url: URL /legacy/e/, which the site had at v1, reaches no page now: content/e.md is at /e/ now; add /legacy/e/ to the aliases of content/e.md",
		"content/moved-a.md:1:1: error lost-url: URL /a/, which the site had at v1, reaches no page now: content/a.md moved to content/moved-a.md, at /moved-a/; add aliases: [/a/] to the front matter of content/moved-a.md",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A ref git does not know is an error, not silence.
	if _, err := Check(context.Background(), Options{Root: root, Now: testNow, Since: "no-such-ref"}); err == nil || !strings.Contains(err.Error(), `"no-such-ref" is not a commit`) {
		t.Errorf("unknown ref: %v", err)
	}
}
