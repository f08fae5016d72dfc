package site

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/bench"
	"github.com/rollbook/rollbook/internal/golden"

	"github.com/rollbook/rollbook/internal/diag"
)

var testNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// copyTree copies a fixture site into a fresh temporary folder.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := copyDirTo(src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func build(t *testing.T, root string, mod func(*Options)) (*Result, error) {
	t.Helper()
	opts := Options{Root: root, Now: testNow}
	if mod != nil {
		mod(&opts)
	}
	return Build(context.Background(), opts)
}

func read(t *testing.T, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "public", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatalf("output %s: %v", rel, err)
	}
	return string(b)
}

// treeHash hashes every file under dir, names and contents.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, f)
		h.Write([]byte(rel + "\x00"))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestBuildBasic(t *testing.T) {
	root := copyTree(t, "testdata/basic")
	res, err := build(t, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != 5 {
		t.Errorf("pages = %d, want 5 (the draft left out)", res.Pages)
	}
	for _, rel := range []string{"index.html", "payments/index.html", "payments/api-canary/index.html", "payments/kill-switch/index.html",
		"notes/on-call/index.html", "services/index.html", "services/payments-api/index.html", "owners/team-payments/index.html",
		"environments/production/index.html", "kinds/rollout/index.html", "risks/low/index.html", "tags/pci/index.html",
		"stale/index.html", "drills/index.html", "404.html", "sitemap.xml", "style.css", "site.js", "chroma.css",
		"payments/migrations/0042_add_ledger_ref.sql", "_export/payments-api-canary.argo.yaml", "_export/payments-api-canary.flagger.yaml"} {
		read(t, root, rel)
	}
	if _, err := os.Stat(filepath.Join(root, "public", "notes", "draft")); err == nil {
		t.Error("draft page was published")
	}

	page := read(t, root, "payments/api-canary/index.html")
	for _, want := range []string{
		"<title>Payments API 2.4 canary · Test runbooks</title>",
		`href="../../style.css"`,                            // relative: works under /sre/
		`href="../kill-switch/#when"`,                       // .md link rewritten to the page URL
		"Ships 2.4.0 with a  ledger reference.",             // raw <script> dropped
		"risk: low",                                         // badge
		"rollback: fast",                                    // badge
		"error_rate", "&gt; baseline &#43; 2%", "2m", "200", // trigger table
		"&gt; 800ms",
		"0042_add_ledger_ref", "safety-expand", // migration with its safety class from the SQL
		"@payments-oncall", "payments-lead", // contacts
		"<svg", // state machine
		"copy", // copy button on code blocks
		`type="checkbox"`,
		"<table",
		`href="../../_export/payments-api-canary.argo.yaml"`, // the drilled policy as manifests
	} {
		if !strings.Contains(page, want) {
			t.Errorf("plan page lacks %q", want)
		}
	}
	if strings.Contains(page, "alert(1)") {
		t.Error("a raw <script> from Markdown was kept")
	}
	if got := findingKeys(res.Findings); !slices.Contains(got, "content/payments/api-canary.md:33 warning raw-html") {
		t.Errorf("no raw-html warning at the dropped <script>: %v", res.Findings)
	}
	if s := read(t, root, "sitemap.xml"); !strings.Contains(s, "<loc>https://runbooks.example.com/sre/payments/api-canary/</loc>") {
		t.Errorf("sitemap lacks the absolute plan URL:\n%s", s)
	}
	home := read(t, root, "index.html")
	for _, want := range []string{"Payments API 2.4 canary", `href="payments/api-canary/"`, "Runbooks for the <strong>test</strong> fleet."} {
		if !strings.Contains(home, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	if s := read(t, root, "services/payments-api/index.html"); !strings.Contains(s, "Ledger kill switch") || !strings.Contains(s, `href="../../payments/api-canary/"`) {
		t.Error("service list does not list both payments plans with relative links")
	}
	if s := read(t, root, "notes/on-call/index.html"); !strings.Contains(s, "On-call handbook") || !strings.Contains(s, `href="../../payments/"`) {
		t.Error("page without front matter lost its title or its site-absolute link")
	}
	if s := read(t, root, "404.html"); !strings.Contains(s, `href="/sre/style.css"`) {
		t.Error("404 page must link its assets from the base path, since it is served at any depth")
	}
}

func TestBuildDeterministicAndUpToDate(t *testing.T) {
	a := copyTree(t, "testdata/basic")
	b := copyTree(t, "testdata/basic")
	if _, err := build(t, a, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := build(t, b, nil); err != nil {
		t.Fatal(err)
	}
	if ha, hb := treeHash(t, filepath.Join(a, "public")), treeHash(t, filepath.Join(b, "public")); ha != hb {
		t.Fatalf("two builds of the same input differ: %s vs %s", ha, hb)
	}
	res, err := build(t, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.UpToDate {
		t.Error("a rebuild with nothing changed was not skipped")
	}
	if err := os.WriteFile(filepath.Join(a, "content", "notes", "on-call.md"), []byte("# On-call handbook v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = build(t, a, nil)
	if err != nil || res.UpToDate {
		t.Fatalf("a changed input must rebuild: %v %+v", err, res)
	}
	if s := read(t, a, "notes/on-call/index.html"); !strings.Contains(s, "On-call handbook v2") {
		t.Error("rebuild did not pick up the change")
	}
}

func TestBuildDrafts(t *testing.T) {
	root := copyTree(t, "testdata/basic")
	if _, err := build(t, root, func(o *Options) { o.Drafts = true }); err != nil {
		t.Fatal(err)
	}
	read(t, root, "notes/draft/index.html")
}

// Bad input never publishes: the last good site stays byte for byte.
func TestBuildBadInputKeepsLastGoodSite(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		src   string
		line  int
		rule  string
		inMsg string
	}{
		{"malformed yaml", "payments/bad.md", "---\ntitle: x\nkind: [rollout\n---\n", 3, "yaml", "not valid YAML"},
		{"wrong type", "payments/bad.md", "---\ntitle: x\nowners: team-a\n---\n", 3, "type", "must be a list"},
		{"unknown kind", "payments/bad.md", "---\ntitle: x\nkind: rolout\n---\n", 3, "enum", "unknown kind"},
		{"bad duration", "payments/bad.md", "---\ntitle: x\nanalysis: {interval: soon}\n---\n", 3, "value", "invalid duration"},
		{"bad percentage", "payments/bad.md", "---\ntitle: x\ntriggers: [{metric: error_rate, max_delta: lots}]\n---\n", 3, "value", "invalid percentage"},
		{"bad date", "payments/bad.md", "---\ntitle: x\nreviewed: yesterday\n---\n", 3, "value", "invalid date"},
		{"bad cron", "payments/bad.md", "---\ntitle: x\ngameday: {schedule: every tuesday}\n---\n", 3, "value", "invalid cron"},
		{"invalid utf-8", "payments/bad.md", "---\ntitle: x\n---\nbad \xc3\x28 byte\n", 4, "encoding", "UTF-8"},
		{"slug escapes", "payments/bad.md", "---\ntitle: x\nslug: ../../../etc\n---\n", 3, "url", "one path segment"},
		{"url escapes", "payments/bad.md", "---\ntitle: x\nurl: /../../outside/\n---\n", 3, "url", "escapes the output folder"},
		{"duplicate url", "payments/bad.md", "---\ntitle: x\nurl: /payments/api-canary/\n---\n", 1, "duplicate-url", "also produced by"},
		{"broken link", "payments/bad.md", "---\ntitle: x\n---\n\nSee [the plan](missing-plan.md).\n", 5, "broken-link", "missing-plan.md"},
		{"missing migration", "payments/bad.md", "---\ntitle: x\nkind: process\nrisk: low\nreviewed: 2026-11-01\nmigrations: [{id: m1, file: migrations/nope.sql}]\n---\n## Expectations\nx\n## Rollout steps\n1. `x`. Verify: y\n", 6, "migration-file", "does not exist"},
	}
	root := copyTree(t, "testdata/basic")
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	good := treeHash(t, filepath.Join(root, "public"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(root, "content", filepath.FromSlash(tt.file))
			if err := os.WriteFile(file, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(file)
			_, err := build(t, root, func(o *Options) { o.Force = true })
			fe, ok := IsFindings(err)
			if !ok {
				t.Fatalf("build did not fail on findings: %v", err)
			}
			var hit *diag.Finding
			for i, f := range fe.Findings {
				if f.File == "content/"+tt.file && f.Rule == tt.rule {
					hit = &fe.Findings[i]
					break
				}
			}
			if hit == nil {
				t.Fatalf("no %s finding for %s in:\n%v", tt.rule, tt.file, fe.Findings)
			}
			if hit.Line != tt.line || hit.Col < 1 || !strings.Contains(hit.Message, tt.inMsg) || hit.Fix == "" {
				t.Errorf("finding %s; want line %d with %q and a fix", hit, tt.line, tt.inMsg)
			}
			if got := treeHash(t, filepath.Join(root, "public")); got != good {
				t.Error("a failed build changed public/")
			}
			if m, _ := filepath.Glob(filepath.Join(root, ".public.tmp-*")); len(m) > 0 {
				t.Errorf("failed build left %v behind", m)
			}
		})
	}
	t.Run("file over 10 MiB", func(t *testing.T) {
		file := filepath.Join(root, "content", "big.md")
		if err := os.WriteFile(file, bytes.Repeat([]byte("a"), 10<<20+1), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(file)
		_, err := build(t, root, func(o *Options) { o.Force = true })
		if fe, ok := IsFindings(err); !ok || fe.Findings[0].Rule != "file-size" || fe.Findings[0].File != "content/big.md" {
			t.Fatalf("got %v", err)
		}
		if treeHash(t, filepath.Join(root, "public")) != good {
			t.Error("a failed build changed public/")
		}
	})
}

func TestRelURL(t *testing.T) {
	tests := []struct{ from, to, want string }{
		{"/", "/style.css", "style.css"},
		{"/", "/", "./"},
		{"/a/b/", "/style.css", "../../style.css"},
		{"/a/b/", "/a/c/", "../c/"}, {"/a/b/", "/a/b/#x", "#x"}, {"/a/b/", "/a/b/c/", "c/"},
		{"/a/", "/", "../"},
		{"/404.html", "/x/", "x/"},
		{"/a/", "https://x.test/", "https://x.test/"},
	}
	for _, tt := range tests {
		if got := relURL(tt.from, tt.to); got != tt.want {
			t.Errorf("relURL(%q, %q) = %q, want %q", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestGoldenPlanPage(t *testing.T) {
	root := copyTree(t, "testdata/basic")
	if err := os.WriteFile(filepath.Join(root, "rollbook.yaml"), []byte("title: Test runbooks\nminify: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	got := read(t, root, "payments/api-canary/index.html")
	golden.Check(t, filepath.Join("testdata", "golden", "api-canary.html"), []byte(got))
}

func TestDrillReportsOnSite(t *testing.T) {
	root := copyTree(t, "testdata/basic")
	drills := filepath.Join(root, "drills", "payments-api-canary")
	if err := os.MkdirAll(drills, 0o755); err != nil {
		t.Fatal(err)
	}
	reports := map[string]string{
		"1-bad-canary-errors.json": `{"plan":"content/payments/api-canary.md","scenario":"bad-canary-errors","started":"2026-11-20T10:00:00Z","passed":true,"final_state":"rolled-back","ttd_plan_seconds":150,"ttr_plan_seconds":17,
			"images":[{"release":"stable","ref":"payments:2.3.1","id":"sha256:941d96239b7e269120f40063687f8dc75e1b9627d53ee698eecf1e7ce1d28357"},{"release":"canary","ref":"rollbook-build:ceeb90b047b7","id":"sha256:2da323e92b1887d962888ae2f4335fe20343efdc89b6201e2bb74fda534af4de","built":"built from services/payments/Dockerfile"}],
			"guard":"expand-only migrations (0042_add_ledger_ref.sql): the stable release's smoke checks still pass after the canary's migrations, so rolling back is safe",
			"logs":[{"release":"canary","lines":["level=ERROR msg=\"request failed\" err=<boom>"]}],
			"timeline":[{"at_ns":100000000,"type":"injection","message":"injected"},{"at_ns":900000000,"type":"trigger","message":"trigger fired"}],
			"intervals":[{"at_ns":250000000,"stable":{"requests":100,"error_rate":0.01,"p99_seconds":0.1},"canary":{"requests":60,"error_rate":0.3,"p99_seconds":0.12}},{"at_ns":500000000,"stable":{"requests":100,"error_rate":0.0,"p99_seconds":0.1},"canary":{"requests":60,"error_rate":0.28,"p99_seconds":0.12}}]}`,
		"2-freeze.json":  `{"plan":"content/payments/api-canary.md","scenario":"freeze","started":"2026-11-20T10:01:00Z","passed":false,"final_state":"halted"}`,
		"3-corrupt.json": `{"plan":"content/payments/api-can`,
		"4-gone.json":    `{"plan":"content/payments/deleted.md","scenario":"freeze","started":"2026-11-20T10:01:00Z","passed":true}`,
	}
	for name, body := range reports {
		if err := os.WriteFile(filepath.Join(drills, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The kill switch has a schedule and was never drilled: overdue.
	ks := filepath.Join(root, "content", "payments", "kill-switch.md")
	src, _ := os.ReadFile(ks)
	if err := os.WriteFile(ks, []byte(strings.Replace(string(src), "risk: low\n", "risk: low\ngameday: {schedule: \"0 10 * * TUE\", scenarios: [freeze]}\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := build(t, root, nil); err != nil {
		t.Fatalf("a corrupt or orphaned report failed the build: %v", err)
	}
	if s := read(t, root, "payments/kill-switch/index.html"); !strings.Contains(s, "drill overdue") {
		t.Error("a scheduled plan never drilled is not shown overdue")
	}
	if s := read(t, root, "payments/api-canary/index.html"); strings.Contains(s, "drill overdue") {
		t.Error("a plan without a schedule is shown overdue")
	}
	page := read(t, root, "payments/api-canary/index.html")
	for _, want := range []string{"last drill: fail", "bad-canary-errors", "2m30s", "17s", "drill-fail", `class="drill-chart"`, "series-canary", "marker-trigger", "drill-history",
		">payments:2.3.1</code>", "(image sha256:941d96239b7e", "stable: ", "canary: ", "rolling back is safe", "err=&lt;boom&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("plan page lacks %q", want)
		}
	}
	if s := read(t, root, "drills/index.html"); !strings.Contains(s, "Payments API 2.4 canary") {
		t.Error("drills dashboard lacks the drilled plan")
	}
	// Golden pages from the fixed reports, unminified so a diff reads well.
	if err := os.WriteFile(filepath.Join(root, "rollbook.yaml"), []byte("title: Test runbooks\nminify: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := build(t, root, func(o *Options) { o.Force = true }); err != nil {
		t.Fatal(err)
	}
	for page, file := range map[string]string{"drills/index.html": "drills-dashboard.html", "payments/api-canary/index.html": "drilled-plan.html"} {
		got := read(t, root, page)
		golden.Check(t, filepath.Join("testdata", "golden", file), []byte(got))
	}
}

// TestLongListsArePaginated: a term carried by 250 plans is listed on
// three pages of at most 100, linked to each other, all in the sitemap.
func TestLongListsArePaginated(t *testing.T) {
	root := t.TempDir()
	if err := bench.Generate(root, 250, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	pages := []string{"environments/production/index.html", "environments/production/page/2/index.html", "environments/production/page/3/index.html"}
	cards := 0
	for i, p := range pages {
		html := read(t, root, p)
		n := strings.Count(html, `class="plan-card"`)
		cards += n
		if n == 0 || n > 100 {
			t.Errorf("%s lists %d plans", p, n)
		}
		if want := fmt.Sprintf("Page %d of 3", i+1); !strings.Contains(html, want) {
			t.Errorf("%s does not say %q", p, want)
		}
		if hasNext := strings.Contains(html, `rel="next"`); hasNext != (i < 2) {
			t.Errorf("%s: next link %v", p, hasNext)
		}
		if hasPrev := strings.Contains(html, `rel="prev"`); hasPrev != (i > 0) {
			t.Errorf("%s: previous link %v", p, hasPrev)
		}
	}
	if cards != 250 {
		t.Errorf("the three pages list %d plans, want 250", cards)
	}
	if html := read(t, root, pages[2]); !strings.Contains(html, "Plans 201–250 of 250") {
		t.Errorf("the last page does not say which plans it holds")
	}
	if _, err := os.Stat(filepath.Join(root, "public", "environments", "production", "page", "4")); err == nil {
		t.Error("a fourth, empty page was written")
	}
	if sm := read(t, root, "sitemap.xml"); !strings.Contains(sm, "/environments/production/page/3/</loc>") {
		t.Error("the sitemap misses the list's third page")
	}
}
