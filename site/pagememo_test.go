package site

import (
	"context"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/config"
)

// TestMemoRules: a page type is kept whole in the build cache only when
// its templates read the page, its plans' cards and known values of the
// site; the default theme's plan, page and term types qualify, the home
// page (every taxonomy's terms) does not, and a theme that lists other
// plans through the site is rendered every time.
func TestMemoRules(t *testing.T) {
	cfg, err := config.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	th, err := loadTheme(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range []PageType{typePlan, typePage} {
		if r := th.memo[pt]; !r.ok || !r.staleCount || !slices.Contains(r.site, "Title") {
			t.Errorf("default %s template: %+v, want kept, with the title and the stale count in its key", pt, r)
		}
	}
	// A term page shows its plans' cards, which their keys cover.
	if r := th.memo["term"]; !r.ok {
		t.Errorf("default term template: %+v, want kept", r)
	}
	// These read other plans through the site or a taxonomy's terms.
	for _, pt := range []PageType{typeHome, typeTerms} {
		if th.memo[pt].ok {
			t.Errorf("default %s template is kept whole, but it lists other pages", pt)
		}
	}
	base := `{{define "base.html"}}<title>{{.Site.Title}}</title>{{template "main" .}}{{end}}`
	for _, c := range []struct {
		name, main string
		ok         bool
		site       []string
	}{
		{"page only", `{{define "main"}}{{.Page.Title}}{{template "part" .Page}}{{end}}{{define "part"}}{{.URL}}{{end}}`, true, []string{"Title"}},
		{"dollar site", `{{define "main"}}{{range .Page.Headings}}{{$.Site.Description}}{{end}}{{end}}`, true, []string{"Description", "Title"}},
		{"now for ages", `{{define "main"}}{{ago .Site.Now .Page.Plan.Reviewed.Time}}{{end}}`, true, []string{"Now", "Title"}},
		{"all plans", `{{define "main"}}{{range .Site.Plans}}{{.Title}}{{end}}{{end}}`, false, nil},
		{"site passed on", `{{define "main"}}{{with .Site}}{{.Title}}{{end}}{{end}}`, false, nil},
		{"stale listed", `{{define "main"}}{{range .Site.Stale}}{{.URL}}{{end}}{{end}}`, false, nil},
		{"a card without the card partial", `{{define "main"}}{{$.Card .Page}}{{end}}`, false, nil},
		{"cards", `{{define "main"}}{{$.Cards .Page.Pages}}{{end}}{{define "plancard"}}{{.P.Title}}{{.V.Site.Description}}{{end}}`, true, []string{"Description", "Title"}},
		{"cards reading all plans", `{{define "main"}}{{$.Cards .Page.Pages}}{{end}}{{define "plancard"}}{{len .V.Site.Plans}}{{end}}`, false, nil},
		{"a taxonomy's name", `{{define "main"}}{{.Page.Taxonomy.Title}} {{.Page.Taxonomy.Key}}{{end}}`, true, []string{"Title"}},
		{"a taxonomy's terms", `{{define "main"}}{{range .Page.Taxonomy.Terms}}{{.Name}}{{end}}{{end}}`, false, nil},
		{"a taxonomy passed on", `{{define "main"}}{{with .Page.Taxonomy}}{{.Title}}{{end}}{{end}}`, false, nil},
		{"terms through a variable", `{{define "main"}}{{$t := .Page}}{{range $t.Terms}}{{.Name}}{{end}}{{end}}`, false, nil},
		{"missing template", `{{define "main"}}{{template "nowhere" .}}{{end}}`, false, nil},
	} {
		tpl := template.Must(template.Must(template.New("").Funcs(funcs).Parse(base)).Parse(c.main))
		r := memoRuleOf(treeLookup{tpl})
		if r.ok != c.ok || c.ok && !slices.Equal(r.site, c.site) {
			t.Errorf("%s: %+v, want ok=%v site=%v", c.name, r, c.ok, c.site)
		}
	}
}

// TestPageMemoFollowsSiteInputs: with the build cache warm, a change that
// alters what a plan page shows without touching its file (another plan
// turning stale, the site's title, a migration's SQL, the plan a link
// points to moving) gives the bytes a build without the cache gives, and
// an unchanged build takes its plan pages from the cache.
func TestPageMemoFollowsSiteInputs(t *testing.T) {
	root := cacheSite(t)
	cache := filepath.Join(t.TempDir(), "cache")
	var last *Builder
	run := func(t *testing.T, name, cacheDir string) (string, int64) {
		t.Helper()
		b, err := New(Options{Root: root, Now: testNow, OutDir: filepath.Join(root, name), CacheDir: cacheDir, Force: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Build(context.Background()); err != nil {
			t.Fatal(err)
		}
		last = b
		return treeHash(t, filepath.Join(root, name)), b.memoHits.Load()
	}
	run(t, "fill", cache)
	if _, hits := run(t, "warm", cache); hits < 40 {
		t.Fatalf("an unchanged build took %d pages from the cache, want every plan page", hits)
	}
	edit := func(rel string, f func(string) string) func(t *testing.T) {
		return func(t *testing.T) {
			file := filepath.Join(root, filepath.FromSlash(rel))
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			changed := f(string(data))
			if changed == string(data) {
				t.Fatalf("the edit of %s changed nothing", rel)
			}
			if err := os.WriteFile(file, []byte(changed), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	notes, _ := filepath.Glob(filepath.Join(root, "content", "generated", "*", "notes-*.md"))
	if len(notes) == 0 {
		t.Fatal("the test site has no plain page")
	}
	rel, _ := filepath.Rel(filepath.Join(root, "content"), notes[0])
	note := "/" + strings.TrimSuffix(filepath.ToSlash(rel), ".md") + "/"
	// By page type, how many pages were rendered and how many came from
	// the cache where the case said.
	cov := map[PageType][2]int{}
	for i, c := range []struct {
		name string
		do   func(t *testing.T)
		// every: no page may come from the cache; else rendered may not,
		// cached must (home, the taxonomies' indexes and the Alerts page
		// read the site whole: never).
		every            bool
		rendered, cached []string
	}{
		{name: "another plan turns stale", every: true, do: edit("content/edge/haproxy-2-8-upgrade.md", func(s string) string {
			return strings.Replace(s, "reviewed: 2026-10-29", "reviewed: 2025-01-02", 1)
		})},
		{name: "the site's title", every: true, do: edit("rollbook.yaml", func(s string) string {
			return strings.Replace(s, "title: Example runbooks", "title: Renamed runbooks", 1)
		})},
		{name: "a migration's SQL", do: edit("content/payments/migrations/0042_add_ledger_ref.sql", func(s string) string {
			return s + "\nCREATE INDEX CONCURRENTLY payments_ledger_ref_idx ON payments (ledger_ref);\n"
		}),
			rendered: []string{"/payments/api-2-4-canary/", "/payments/", "/tags/pci/", "/drills/", "/", "/tags/", "/alerts/"},
			cached:   []string{"/edge/haproxy-2-8-upgrade/", "/edge/", "/services/edge-lb/", "/stale/", "/404.html", note}},
		// Lists: a card shows a plan's front matter, and a new plan moves
		// the others along their lists' pages.
		{name: "a listed plan's risk", do: edit("content/edge/haproxy-2-8-upgrade.md", func(s string) string {
			return strings.Replace(s, "risk: medium", "risk: low", 1)
		}),
			rendered: []string{"/edge/haproxy-2-8-upgrade/", "/edge/", "/risks/low/", "/stale/", "/risks/"},
			cached:   []string{"/payments/api-2-4-canary/", "/payments/", "/tags/pci/", "/drills/", "/404.html", note}},
		{name: "a listed plan's title", do: func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(root, "content", "generated", "*", "plan-*.md"))
			rel, _ := filepath.Rel(root, files[len(files)-1])
			edit(filepath.ToSlash(rel), func(s string) string {
				return strings.Replace(s, `title: "`, `title: "Renamed `, 1)
			})(t)
		}},
		{name: "a new plan on the lists", do: func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(root, "content", "generated", "*", "plan-*.md"))
			data, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(filepath.Dir(files[0]), "aaa-first.md"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.do(t)
			want, _ := run(t, "cold-"+string(rune('a'+i)), "")
			got, hits := run(t, "cached-"+string(rune('a'+i)), cache)
			if got != want {
				t.Fatal("the cached build differs from a build without the cache")
			}
			t.Logf("%d pages from the cache", hits)
			for u, d := range last.pages {
				typ := d.page.Type
				whole := typ == typeHome || typ == typeTerms || typ == typeAlerts
				if d.hit && (c.every || whole || slices.Contains(c.rendered, u)) {
					t.Errorf("%s page %s came from the cache", typ, u)
				}
				if !d.hit && slices.Contains(c.cached, u) {
					t.Errorf("%s page %s was rendered again, though nothing it shows changed", typ, u)
				}
				n := cov[typ]
				switch {
				case c.every || slices.Contains(c.rendered, u):
					n[0]++
				case slices.Contains(c.cached, u):
					n[1]++
				}
				cov[typ] = n
			}
			for _, u := range append(slices.Clone(c.rendered), c.cached...) {
				if last.pages[u] == nil {
					t.Errorf("the site has no page %s", u)
				}
			}
		})
	}
	for _, k := range pageTypes {
		n := cov[k.typ]
		never := k.typ == typeHome || k.typ == typeTerms || k.typ == typeAlerts
		if n[0] == 0 || n[1] == 0 && !never {
			t.Errorf("%s pages: %d checked rendered, %d checked from the cache: the cases must do both", k.typ, n[0], n[1])
		}
	}
}
