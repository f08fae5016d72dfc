package site

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/golden"
)

// The adopt fixture is a runbook repository as teams bring it: a Hugo
// section (_index.md beside a stale index.md), GitHub README.md folders
// linking to folders, scripts and dashboards, and pages without front
// matter.
const adoptFixture = "testdata/adopt"

// adoptSite copies the fixture and appends yaml to its rollbook.yaml.
func adoptSite(t *testing.T, yaml string) string {
	t.Helper()
	root := copyTree(t, adoptFixture)
	f, err := os.OpenFile(filepath.Join(root, "rollbook.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(yaml); err != nil {
		t.Fatal(err)
	}
	return root
}

func findingKeys(ds diag.List) []string {
	var out []string
	for _, f := range ds {
		out = append(out, fmt.Sprintf("%s:%d %s %s", f.File, f.Line, f.Severity, f.Rule))
	}
	return out
}

// TestAdoptFindings: as it is, the repository gives the findings a team
// has to act on, each with its rule (registered) and what to do.
func TestAdoptFindings(t *testing.T) {
	ds, err := Check(context.Background(), Options{Root: adoptSite(t, ""), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"docs/github/README.md:8 error broken-link",
		"docs/github/README.md:9 error broken-link",
		"docs/github/README.md:10 error broken-link",
		"docs/github/uncategorized/disk-full.md:8 error broken-link",
		"docs/gitlab/ci-runners/README.md:17 warning diagram",
		"docs/hugo/cache-flush.md:3 error required-section",
		"docs/hugo/cache-flush.md:3 error required-section",
		"docs/hugo/cache-flush.md:3 error required-section",
		"docs/hugo/cache-flush.md:3 error required-section",
		"docs/hugo/index.md:1 warning index-page",
	}
	if got := findingKeys(ds); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings:\n%s\nwant:\n%s\n\n%v", strings.Join(got, "\n"), strings.Join(want, "\n"), ds)
	}
	for _, f := range ds {
		if _, ok := check.Lookup(f.Rule); !ok {
			t.Errorf("rule %s is not in the registry: %v", f.Rule, f)
		}
		if f.Fix == "" {
			t.Errorf("finding says nothing to do: %v", f)
		}
	}
	if _, err := build(t, adoptSite(t, ""), nil); err == nil {
		t.Fatal("the repository built without rules:")
	}
}

// TestAdoptBuildsWithRules: rules: overrides publish the repository, and
// its folders, README.md pages and titles read like the sources.
func TestAdoptBuildsWithRules(t *testing.T) {
	root := adoptSite(t, "rules:\n  broken-link: warning\n  required-section: off\n  index-page: off\n  diagram: off\n")
	res, err := build(t, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := findingKeys(res.Findings); len(got) != 4 || strings.Contains(strings.Join(got, " "), "error") {
		t.Fatalf("findings with rules: %v", res.Findings)
	}
	for _, f := range res.Findings {
		if f.Rule != "broken-link" || f.Severity != diag.Warning || f.Default != diag.Error {
			t.Errorf("finding %v: want broken-link warning (default error)", f)
		}
	}

	// Folder pages: _index.md wins over index.md, README.md and index.md
	// make a folder's page, and links to folders and to README.md reach it.
	if _, err := os.Stat(filepath.Join(root, "public", "hugo", "index", "index.html")); err == nil {
		t.Error("the index.md that _index.md won over was built as a page")
	}
	home := read(t, root, "index.html")
	for _, want := range []string{`href="hugo/">Hugo section</a>`, `href="github/">database runbooks</a>`} {
		if !strings.Contains(home, want) {
			t.Errorf("home lacks %s", want)
		}
	}
	db := read(t, root, "github/index.html")
	for _, want := range []string{`href="uncategorized/">Uncategorized runbooks</a>`, `href="replication/">Replication</a>`, `href="replica-lag/">Replica lag</a>`,
		`<a class="plan-title" href="uncategorized/">Uncategorized</a>`, `<a class="plan-title" href="replication/">Replication</a>`} {
		if !strings.Contains(db, want) {
			t.Errorf("github/ (README.md) lacks %s", want)
		}
	}
	if lag := read(t, root, "github/replica-lag/index.html"); !strings.Contains(lag, `href="../">database runbooks</a>`) {
		t.Error("a link to README.md does not reach the folder's page")
	}
	if up := read(t, root, "github/uncategorized/index.html"); !strings.Contains(up, `href="../">database runbooks</a>`) {
		t.Error("a link to ../ does not reach the folder's page")
	}

	// One title per page, from front matter, else the first # heading,
	// else the file name; <title>, the lists and search say the same.
	titles := map[string]string{
		"index.html":                                "",
		"hugo/index.html":                           "Cache runbooks",
		"github/index.html":                         "Database runbooks",
		"github/replication/index.html":             "Replication",
		"github/uncategorized/index.html":           "Uncategorized",
		"github/uncategorized/disk-full/index.html": "Disk full on a replica",
		"github/replica-lag/index.html":             "Replica lag",
		"hugo/cache-flush/index.html":               "Flush the edge cache",
	}
	h1 := regexp.MustCompile(`<h1[^>]*>`)
	for file, title := range titles {
		page := read(t, root, file)
		if n := len(h1.FindAllString(page, -1)); n != 1 {
			t.Errorf("%s has %d <h1>", file, n)
		}
		if title == "" {
			continue
		}
		if !strings.Contains(page, "<title>"+title+" · Adopted runbooks</title>") {
			t.Errorf("%s: <title> is not %q", file, title)
		}
		if n := strings.Count(page, ">"+title+"<"); n != 1 {
			t.Errorf("%s shows its title %q %d times", file, title, n)
		}
	}
	if !strings.Contains(db, `>Replica lag</a>`) || !strings.Contains(read(t, root, "kinds/rollback/index.html"), ">Flush the edge cache</a>") {
		t.Error("lists do not show the page titles")
	}
	docs := searchDocsByURL(t, root)
	for u, title := range map[string]string{"/github/uncategorized/disk-full/": "Disk full on a replica", "/github/replica-lag/": "Replica lag", "/hugo/cache-flush/": "Flush the edge cache"} {
		if docs[u] != title {
			t.Errorf("search title of %s is %q, want %q", u, docs[u], title)
		}
	}
}

// TestGoldenPageWithoutFrontMatter: a plain Markdown page reads like its
// source: its # heading is the title, shown once.
func TestGoldenPageWithoutFrontMatter(t *testing.T) {
	root := adoptSite(t, "rules:\n  broken-link: warning\n  required-section: off\n")
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "disk-full-no-front-matter.html"), []byte(read(t, root, "github/uncategorized/disk-full/index.html")))
}

// searchDocsByURL reads the built search index's document rows: URL -> title.
func searchDocsByURL(t *testing.T, root string) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "public", "_search", "d", "*.json"))
	if len(files) == 0 {
		t.Fatal("no search documents written")
	}
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rows [][]any
		if err := json.Unmarshal(data, &rows); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range rows {
			if len(r) > 1 {
				u, _ := r[0].(string)
				out[u], _ = r[1].(string)
			}
		}
	}
	return out
}

// TestAdoptSourceLinks: with repo_url, links to scripts and dashboards
// outside the content folder point to them in the repository, every page
// has "Edit this page", and a page not written yet stays a broken link;
// "Last changed" comes from git when the project is a checkout.
func TestAdoptSourceLinks(t *testing.T) {
	root := adoptSite(t, "repo_url: https://github.com/acme/runbooks/\nrules:\n  broken-link: warning\n  required-section: off\n  index-page: off\n  diagram: off\n")
	gitCommit(t, root, "2026-11-20T09:30:00Z")
	res, err := build(t, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := findingKeys(res.Findings); strings.Join(got, ",") != "docs/github/README.md:10 warning broken-link" {
		t.Fatalf("findings with repo_url: %v", res.Findings)
	}
	db := read(t, root, "github/index.html")
	for _, want := range []string{
		`<a href="https://github.com/acme/runbooks/blob/main/scripts/failover.sh">failover.sh</a>`,
		`<a href="https://github.com/acme/runbooks/blob/main/dashboards/replication.json">replication dashboard</a>`,
		`<a href="https://github.com/acme/runbooks/edit/main/docs/github/README.md" rel="edit">Edit this page</a>`,
		`Last changed <time datetime="2026-11-20T09:30:00Z">2026-11-20</time>`,
	} {
		if !strings.Contains(db, want) {
			t.Errorf("github/ lacks %s", want)
		}
	}
	disk := read(t, root, "github/uncategorized/disk-full/index.html")
	if !strings.Contains(disk, `href="https://github.com/acme/runbooks/blob/main/scripts/failover.sh"`) || !strings.Contains(disk, `edit/main/docs/github/uncategorized/disk-full.md"`) {
		t.Error("disk-full lacks its repository links")
	}
	if strings.Contains(read(t, root, "kinds/index.html"), "Edit this page") {
		t.Error("a generated list page has an Edit link")
	}

	// Without git and without repo_url: no dates, no edit links, and the
	// broken-link says how to fix it.
	root = adoptSite(t, "")
	ds, err := Check(context.Background(), Options{Root: root, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ds[0].Message, "scripts/failover.sh, which is in the repository") || !strings.Contains(ds[0].Fix, "repo_url") {
		t.Errorf("a link to a repository file without repo_url: %v", ds[0])
	}
	root = adoptSite(t, "rules:\n  broken-link: off\n  required-section: off\n")
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	if page := read(t, root, "github/index.html"); strings.Contains(page, "Last changed") || strings.Contains(page, "Edit this page") {
		t.Error("a site outside git and without repo_url shows source links")
	}
}

// gitCommit makes root a git checkout with everything committed at date.
func gitCommit(t *testing.T, root, date string) {
	t.Helper()
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-qm", "runbooks"}} {
		cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// TestSymlinksLeavingContent: a page, an asset and a migration's SQL that
// are symlinks to files outside the content folder are refused alike,
// with a finding each, and nothing of the outside files is published.
func TestSymlinksLeavingContent(t *testing.T) {
	root := copyTree(t, "testdata/basic")
	outside := t.TempDir()
	secret := "SECRET-OUTSIDE-CONTENT"
	files := map[string]string{"page.md": "# Outside\n" + secret + "\n", "diagram.svg": "<svg>" + secret + "</svg>", "drop.sql": "-- " + secret + "\nALTER TABLE orders DROP COLUMN ledger_ref;\n"}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(outside, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	content := filepath.Join(root, "content", "payments")
	for link, target := range map[string]string{"outside.md": "page.md", "diagram.svg": "diagram.svg", "migrations/0042_add_ledger_ref.sql": "drop.sql"} {
		l := filepath.Join(content, filepath.FromSlash(link))
		_ = os.Remove(l)
		if err := os.Symlink(filepath.Join(outside, target), l); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := Check(context.Background(), Options{Root: root, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range ds {
		if f.Rule == "content-symlink" || f.Rule == "migration-file" {
			got = append(got, fmt.Sprintf("%s %s %s", f.File, f.Severity, f.Rule))
			if !strings.Contains(f.Message, "outside the content folder") || f.Fix == "" {
				t.Errorf("finding does not say why: %v", f)
			}
		}
	}
	want := []string{"content/payments/api-canary.md error migration-file", "content/payments/diagram.svg error content-symlink",
		"content/payments/migrations/0042_add_ledger_ref.sql error content-symlink", "content/payments/outside.md error content-symlink"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("symlink findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range ds {
		if strings.Contains(f.Message, "contract") {
			t.Errorf("the outside SQL was analysed: %v", f)
		}
	}
	if _, err := build(t, root, func(o *Options) { o.Force = true }); err == nil {
		t.Fatal("built with symlinks leaving the content folder")
	}
	root2 := adoptSite(t, "rules:\n  content-symlink: warning\n  broken-link: off\n  required-section: off\n")
	if err := os.Symlink(filepath.Join(outside, "page.md"), filepath.Join(root2, "docs", "outside.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "diagram.svg"), filepath.Join(root2, "docs", "diagram.svg")); err != nil {
		t.Fatal(err)
	}
	if _, err := build(t, root2, nil); err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(filepath.Join(root2, "public"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), secret) {
				t.Errorf("%s holds the outside file's content", p)
			}
		}
		return nil
	})
}
