package site

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
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
	root := adoptSite(t, "rules:\n  broken-link: warning\n  required-section: off\n  index-page: off\n")
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
