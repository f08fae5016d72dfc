package site

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/bench"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/search"
)

// memSite builds root in memory, as rollbook serve does.
func memSite(t *testing.T, root string) *Builder {
	t.Helper()
	b, err := New(Options{Root: root, Now: testNow, Memory: true, Force: true, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

// sameSite compares an updated in-memory site with a fresh build of the
// same sources. Term shards are compared by the documents each term
// lists: an update scores with the average length of the first build.
func sameSite(t *testing.T, step string, got, want map[string][]byte) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: %s missing after the update", step, name)
		case strings.HasPrefix(name, "_search/t/"), strings.HasPrefix(name, "_search/l/"):
			if a, b := shardDocs(t, g), shardDocs(t, w); a != b {
				t.Errorf("%s: %s lists other documents:\n got %s\nwant %s", step, name, a, b)
			}
			if strings.HasPrefix(name, "_search/t/") {
				// Which documents are a term's best can differ between two
				// near-equal scores; every row must still be the document's.
				checkRows(t, step, name, g, want)
			}
		case string(g) != string(w):
			t.Errorf("%s: %s differs from a full build:\n got %.300s\nwant %.300s", step, name, firstDiff(g, w), firstDiff(w, g))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: %s left over after the update", step, name)
		}
	}
}

// checkRows checks that each result row in a shard is its document's
// row in the fresh build's chunks (URL, title, service, kind, risk and
// summary).
func checkRows(t *testing.T, step, name string, data []byte, want map[string][]byte) {
	t.Helper()
	var shard struct {
		R map[string][]any `json:"r"`
	}
	if err := json.Unmarshal(data, &shard); err != nil {
		t.Fatalf("%s: %s: %v", step, name, err)
	}
	for id, row := range shard.R {
		var doc int
		fmt.Sscan(id, &doc)
		var chunk [][]any
		if err := json.Unmarshal(want[fmt.Sprintf("_search/d/%d.json", doc/search.ChunkSize)], &chunk); err != nil || doc%search.ChunkSize >= len(chunk) {
			t.Fatalf("%s: %s: document %d is in no chunk (%v)", step, name, doc, err)
		}
		if got, w := fmt.Sprint(row[:6]), fmt.Sprint(chunk[doc%search.ChunkSize][:6]); got != w {
			t.Errorf("%s: %s: row of document %d is\n %s\nwant\n %s", step, name, doc, got, w)
		}
	}
}

func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return string(a[max(0, i-80):])
}

func shardDocs(t *testing.T, data []byte) string {
	m, err := search.DecodeShard(data)
	if len(data) > 4 && string(data[:4]) == `{"d"` { // a big term's full list
		var l []search.Posting
		l, err = search.DecodeList(data)
		m = map[string][]search.Posting{"": l}
	}
	if err != nil {
		t.Fatalf("shard: %v", err)
	}
	var out []string
	for term, ps := range m {
		ids := make([]int, len(ps))
		for i, p := range ps {
			ids[i] = p.Doc
		}
		sort.Ints(ids)
		out = append(out, fmt.Sprint(term, ids))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestUpdateMatchesFullBuild(t *testing.T) {
	root := t.TempDir()
	// 250 plans: every plan is in production, so that list has three pages.
	if err := bench.Generate(root, 250, 7); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "content", "*", "plan-*.md"))
	sort.Strings(files)
	b := memSite(t, root)
	kept := b.last
	ctx := context.Background()
	urlOf := func(file string) string {
		rel, _ := filepath.Rel(filepath.Join(root, "content"), file)
		return "/" + strings.TrimSuffix(filepath.ToSlash(rel), ".md") + "/"
	}
	cov := map[PageType][2]int{}
	edit := func(file string, fn func(string) string) {
		t.Helper()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(fn(string(data))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	replace := func(re, with string) func(string) string {
		return func(s string) string { return regexp.MustCompile(re).ReplaceAllString(s, with) }
	}
	steps := []struct {
		name string
		file string
		fn   func(string) string
	}{
		{"body edit", files[0], func(s string) string { return s + "\n## Zebra quagga\n\nA paragraph only this plan has.\n" }},
		{"title moves the plan to the front of its lists", files[1], replace(`(?m)^title: .*$`, `title: "AAA first plan"`)},
		{"new tag, risk and owner", files[2], replace(`(?m)^tags: .*$`, "tags: [brand-new-tag, drain]\nrisk: high")},
		{"last plan with the new tag drops it", files[2], replace(`(?m)^tags: .*$`, "tags: [drain]")},
		{"leaves production: the production list gets shorter", files[3], replace(`(?m)^environments: .*$`, "environments: [staging]")},
	}
	for _, st := range steps {
		if st.name == "new tag, risk and owner" {
			// The synthetic plans already set risk: keep one risk key.
			st.fn = func(s string) string {
				s = regexp.MustCompile(`(?m)^risk: .*\n`).ReplaceAllString(s, "")
				return regexp.MustCompile(`(?m)^tags: .*$`).ReplaceAllString(s, "tags: [brand-new-tag, drain]\nrisk: high")
			}
		}
		before := b.Files()
		edit(st.file, st.fn)
		if _, err := b.Update(ctx, []string{st.file}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if b.last != kept {
			t.Fatalf("%s: the update built the whole site", st.name)
		}
		// Of a list of three pages, only those that show the plan.
		checkRenders(t, st.name, b, before, renders{edited: []string{urlOf(st.file)}}, cov)
		sameSite(t, st.name, b.Files(), memSite(t, root).Files())
	}

	// A broken plan fails the update and keeps the last good site.
	good := b.Files()
	orig, _ := os.ReadFile(files[4])
	edit(files[4], replace(`(?m)^kind: .*$`, "kind: [rollout"))
	_, err := b.Update(ctx, []string{files[4]})
	fe, ok := IsFindings(err)
	if !ok || len(fe.Findings) == 0 || !strings.HasSuffix(fe.Findings[0].File, filepath.Base(files[4])) || fe.Findings[0].Line != 4 {
		t.Fatalf("broken plan: got %v, want a finding at line 4 (after the unclosed list) of %s", err, files[4])
	}
	if len(b.Files()) != len(good) || string(b.Files()["index.html"]) != string(good["index.html"]) {
		t.Error("a failed update changed the served site")
	}
	// Another edit while the plan is broken still reports the broken one,
	// and a second broken plan is reported beside it.
	edit(files[5], func(s string) string { return s + "\nMore text.\n" })
	if _, err := b.Update(ctx, []string{files[5]}); err == nil {
		t.Fatal("an edit elsewhere published a site with a broken plan")
	}
	orig7, _ := os.ReadFile(files[7])
	edit(files[7], replace(`(?m)^kind: .*$`, "kind: [rollout"))
	_, err = b.Update(ctx, []string{files[7]})
	if fe, ok := IsFindings(err); !ok || len(fe.Findings.Errors()) != 2 {
		t.Fatalf("two broken plans: got %v, want an error for each", err)
	}
	if err := os.WriteFile(files[7], orig7, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[4], orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(ctx, []string{files[4]}); err != nil {
		t.Fatalf("fixed plan: %v", err)
	}
	sameSite(t, "fixed", b.Files(), memSite(t, root).Files())

	// A new plan is added in place: it is the search index's last
	// document, so the index is compared by page, not by number.
	data, _ := os.ReadFile(files[6])
	added := filepath.Join(filepath.Dir(files[6]), "added.md")
	data = regexp.MustCompile(`(?m)^tags: .*$`).ReplaceAll(data, []byte("tags: [only-the-added-plan]"))
	if err := os.WriteFile(added, data, 0o644); err != nil {
		t.Fatal(err)
	}
	before := b.Files()
	if _, err := b.Update(ctx, []string{added}); err != nil {
		t.Fatal(err)
	}
	checkRenders(t, "new plan", b, before, renders{edited: []string{urlOf(added)}}, cov)
	if b.last != kept {
		t.Error("a new plan built the whole site")
	}
	sameSiteByPage(t, "new plan", b.Files(), memSite(t, root).Files())
	// An edit of the new plan finds its search document.
	edit(added, func(s string) string { return s + "\nEdited after it was added.\n" })
	if _, err := b.Update(ctx, []string{added}); err != nil {
		t.Fatal(err)
	}
	sameSiteByPage(t, "new plan edited", b.Files(), memSite(t, root).Files())

	// Deleting a page removes it in place: from its lists (the term only
	// it had goes), its section, the home page, the sitemap and search,
	// where its number stays taken (listed as gone) until a full build.
	for _, f := range []string{added, files[10]} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
		before := b.Files()
		if _, err := b.Update(ctx, []string{f}); err != nil {
			t.Fatalf("delete %s: %v", f, err)
		}
		checkRenders(t, "delete "+filepath.Base(f), b, before, renders{edited: []string{urlOf(f)}}, cov)
		if b.last != kept {
			t.Errorf("deleting %s built the whole site", f)
		}
		sameSiteByPage(t, "delete "+filepath.Base(f), b.Files(), memSite(t, root).Files())
	}
	// A rename, in its folder or to another, is a deletion and a new page
	// applied together.
	other := filepath.Dir(files[len(files)-1])
	if other == filepath.Dir(files[14]) {
		t.Fatal("the synthetic plans are all in one folder")
	}
	for _, mv := range [][2]string{
		{files[13], filepath.Join(filepath.Dir(files[13]), "renamed.md")},
		{files[14], filepath.Join(other, "moved.md")},
	} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
		before := b.Files()
		if _, err := b.Update(ctx, mv[:]); err != nil {
			t.Fatalf("rename %s: %v", mv[0], err)
		}
		checkRenders(t, "rename "+filepath.Base(mv[0]), b, before, renders{edited: []string{urlOf(mv[0]), urlOf(mv[1])}}, cov)
		if b.last != kept {
			t.Errorf("renaming %s built the whole site", mv[0])
		}
		sameSiteByPage(t, "rename "+filepath.Base(mv[0]), b.Files(), memSite(t, root).Files())
	}

	// Deleting a page another one links to breaks that link: the update
	// fails with the link's place, and the page is still served.
	from, to := files[11], files[12]
	edit(from, func(s string) string { return s + "\nSee [the next plan](" + filepath.Base(to) + ").\n" })
	if _, err := b.Update(ctx, []string{from}); err != nil {
		t.Fatal(err)
	}
	toURL := "/" + strings.TrimSuffix(filepath.ToSlash(strings.TrimPrefix(to, filepath.Join(root, "content")+string(filepath.Separator))), ".md") + "/"
	toFile := strings.TrimPrefix(toURL, "/") + "index.html"
	if _, ok := b.Files()[toFile]; !ok {
		t.Fatalf("%s is not served before the delete", toFile)
	}
	saved, _ := os.ReadFile(to)
	if err := os.Remove(to); err != nil {
		t.Fatal(err)
	}
	_, err = b.Update(ctx, []string{to})
	if fe, ok := IsFindings(err); !ok || len(fe.Findings.Errors()) != 1 || fe.Findings.Errors()[0].Rule != "broken-link" ||
		!strings.HasSuffix(fe.Findings.Errors()[0].File, filepath.Base(from)) {
		t.Errorf("deleting a linked page: got %v, want one broken-link error in %s", err, from)
	}
	if _, ok := b.Files()[toFile]; !ok {
		t.Errorf("a failed delete stopped serving %s", toFile)
	}
	if err := os.WriteFile(to, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(ctx, []string{to}); err != nil {
		t.Fatalf("restored %s: %v", to, err)
	}
	sameSiteByPage(t, "restored", b.Files(), memSite(t, root).Files())

	// A new page with a URL another page has: the full build reports it.
	dup := filepath.Join(filepath.Dir(files[6]), "dup.md")
	if err := os.WriteFile(dup, []byte("---\ntitle: Dup\nurl: "+strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(files[6], filepath.Join(root, "content")), ".md"), "")+"/\n---\nBody.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = b.Update(ctx, []string{dup})
	if fe, ok := IsFindings(err); !ok || len(fe.Findings.Errors()) != 1 || fe.Findings.Errors()[0].Rule != "duplicate-url" {
		t.Errorf("a new page taking another page's URL: got %v, want one duplicate-url error", err)
	}
}

// sameSiteByPage compares two in-memory sites whose search documents are
// numbered differently: every file outside _search/ byte for byte, and
// the index by what it says of each page.
func sameSiteByPage(t *testing.T, step string, got, want map[string][]byte) {
	t.Helper()
	for name, w := range want {
		if strings.HasPrefix(name, "_search/") {
			continue
		}
		if g, ok := got[name]; !ok {
			t.Errorf("%s: %s missing", step, name)
		} else if string(g) != string(w) {
			t.Errorf("%s: %s differs from a full build:\n got %.300s\nwant %.300s", step, name, firstDiff(g, w), firstDiff(w, g))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok && !strings.HasPrefix(name, "_search/") {
			t.Errorf("%s: %s left over", step, name)
		}
	}
	a, b := indexByPage(t, got), indexByPage(t, want)
	for k, v := range b {
		if a[k] != v {
			t.Errorf("%s: search %s:\n got %.300s\nwant %.300s", step, k, a[k], v)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			t.Errorf("%s: search has %s, a full build does not", step, k)
		}
	}
}

// indexByPage reads a site's search index as facts about pages: each
// term's pages, each facet value's pages, each page's result data.
func indexByPage(t *testing.T, files map[string][]byte) map[string]string {
	t.Helper()
	urlOf := map[int]string{}
	out := map[string]string{}
	for name, data := range files {
		if !strings.HasPrefix(name, "_search/d/") {
			continue
		}
		var c int
		fmt.Sscanf(strings.TrimPrefix(name, "_search/d/"), "%d.json", &c)
		var rows [][]any
		if err := json.Unmarshal(data, &rows); err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if r == nil {
				continue // a document deleted while serving
			}
			urlOf[c*search.ChunkSize+i] = r[0].(string)
			out["row "+r[0].(string)] = fmt.Sprint(r)
		}
	}
	pages := func(ids []int) string {
		var us []string
		for _, id := range ids {
			us = append(us, urlOf[id])
		}
		sort.Strings(us)
		return strings.Join(us, " ")
	}
	for name, data := range files {
		switch {
		case strings.HasPrefix(name, "_search/t/"):
			m, err := search.DecodeShard(data)
			if err != nil {
				t.Fatal(err)
			}
			for term, ps := range m {
				var ids []int
				for _, p := range ps {
					ids = append(ids, p.Doc)
				}
				if len(ps) <= search.BigTerm {
					out["term "+term] = pages(ids)
				}
			}
		case strings.HasPrefix(name, "_search/l/"):
			l, err := search.DecodeList(data)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for _, p := range l {
				ids = append(ids, p.Doc)
			}
			out["list "+name] = pages(ids)
		case name == "_search/f.json":
			var f map[string]map[string][]int
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatal(err)
			}
			for facet, vals := range f {
				for v, gaps := range vals {
					var ids []int
					id := 0
					for _, g := range gaps {
						id += g
						ids = append(ids, id)
					}
					out["facet "+facet+"="+v] = pages(ids)
				}
			}
		}
	}
	return out
}

// TestCachedBuildsMatchFreshBuilds: a serve builder's full builds reuse
// parsed and rendered pages; after edits, a new page and a removed one,
// each gives the site a fresh builder gives.
func TestCachedBuildsMatchFreshBuilds(t *testing.T) {
	root := t.TempDir()
	if err := bench.Generate(root, 120, 11); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "content", "*", "plan-*.md"))
	sort.Strings(files)
	b := memSite(t, root)
	ctx := context.Background()
	steps := []struct {
		name string
		do   func() error
	}{
		{"nothing changed", func() error { return nil }},
		{"an edit", func() error {
			data, _ := os.ReadFile(files[0])
			return os.WriteFile(files[0], append(data, "\n## Cached edit\n\nNew words.\n"...), 0o644)
		}},
		{"a new plan", func() error {
			data, _ := os.ReadFile(files[1])
			return os.WriteFile(filepath.Join(filepath.Dir(files[1]), "copy.md"), data, 0o644)
		}},
		{"a removed plan", func() error { return os.Remove(files[2]) }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Build(ctx); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, want := b.Files(), memSite(t, root).Files()
		if len(got) != len(want) {
			t.Errorf("%s: %d files, a fresh build has %d", st.name, len(got), len(want))
		}
		for name, w := range want {
			if string(got[name]) != string(w) {
				t.Errorf("%s: %s differs from a fresh build", st.name, name)
			}
		}
	}
}

// Assets and migration files change in place: an asset is written as it
// is, and a changed migration checks and renders again the plan that
// ships it, as a full build would.
func TestUpdateAssetsAndMigrations(t *testing.T) {
	root := copyTree(t, "testdata/basic")
	b := memSite(t, root)
	kept := b.last
	ctx := context.Background()
	content := filepath.Join(root, "content")
	sql := filepath.Join(content, "payments", "migrations", "0042_add_ledger_ref.sql")
	orig, err := os.ReadFile(sql)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name, file, data string
	}{
		{"a new asset", filepath.Join(content, "payments", "diagram.svg"), `<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="4"/></svg>`},
		{"a changed asset", filepath.Join(content, "payments", "diagram.svg"), `<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>`},
		{"a migration still expand", sql, string(orig) + "\nALTER TABLE orders ADD COLUMN ledger_note text;\n"},
		{"a migration that takes its lock safely", sql, "SET lock_timeout = '2s';\n" + string(orig)},
		{"a migration that turns contract", sql, string(orig) + "\nALTER TABLE orders DROP COLUMN legacy_ref;\n"},
		{"the migration as it was", sql, string(orig)},
	}
	for _, st := range steps {
		if err := os.WriteFile(st.file, []byte(st.data), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := b.Update(ctx, []string{st.file})
		fresh, ferr := New(Options{Root: root, Now: testNow, Memory: true, Force: true, Dev: true})
		if ferr != nil {
			t.Fatal(ferr)
		}
		fres, ferr := fresh.Build(ctx)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("%s: update gave %v, a full build %v", st.name, err, ferr)
		}
		if err == nil && res.Findings.Error() != fres.Findings.Error() {
			// The lock rules report at the SQL's lines: an update
			// replaces those of the plans it checks again.
			t.Errorf("%s: update findings:\n%v\nfull build:\n%v", st.name, res.Findings, fres.Findings)
		}
		if b.last != kept {
			t.Errorf("%s: the update built the whole site", st.name)
		}
		if err == nil {
			sameSite(t, st.name, b.Files(), fresh.Files())
		}
		if st.name == "a migration that turns contract" {
			// The declared expand step is found to contract the schema
			// while the plan rolls back automatically: the guard fails
			// the update, naming the SQL line.
			fe, ok := IsFindings(err)
			if !ok || !slices.ContainsFunc(fe.Findings, func(f diag.Finding) bool {
				return f.Rule == "migration-phase" && strings.Contains(f.Message, "0042_add_ledger_ref.sql:5")
			}) {
				t.Errorf("%s: got %v, want a migration-phase error at the SQL's line 5", st.name, err)
			}
		}
	}
	if got := string(b.Files()["payments/diagram.svg"]); !strings.Contains(got, "circle") {
		t.Errorf("the changed asset is served as %q", got)
	}
	// The plan page shows what the SQL now does.
	if page := string(b.Files()["payments/api-canary/index.html"]); !strings.Contains(page, "0042_add_ledger_ref") {
		t.Error("the plan page lost its migration")
	}

	// A deleted asset may break links: the whole site is built.
	asset := filepath.Join(content, "payments", "diagram.svg")
	if err := os.Remove(asset); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(ctx, []string{asset}); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Files()["payments/diagram.svg"]; ok {
		t.Error("a deleted asset is still served")
	}
}

// TestTermsAddAndRemoveLikeBuild: adding a plan to the terms, or taking
// one out, gives the terms buildTerms gives over the plans after the
// change: the same terms, in order, each listing its plans in list order
// (a new value makes a term; a term whose last plan goes is gone).
func TestTermsAddAndRemoveLikeBuild(t *testing.T) {
	mk := func(title string, w int, tags ...string) *Page {
		return &Page{Type: "plan", Title: title, URL: "/" + title + "/", Plan: &plan.Plan{Weight: w, Tags: tags}}
	}
	all := []*Page{mk("alpha", 0, "db", "edge"), mk("beta", 0, "db"), mk("gamma", 0, "edge", "db"), mk("delta", -1, "zz"), mk("eps", 0)}
	tags := func() *Taxonomy { return taxonomies()[5] }
	for i, pg := range all {
		// Add the i-th plan to a site of the others.
		var rest []*Page
		for j, o := range all {
			if j != i {
				rest = append(rest, o)
			}
		}
		sortPages(rest)
		got := tags()
		buildTerms(got, rest)
		addToTerms(got, pg)
		want := tags()
		sorted := slices.Clone(all)
		sortPages(sorted)
		buildTerms(want, sorted)
		if !reflect.DeepEqual(got.Terms, want.Terms) {
			t.Errorf("adding %s: terms %v, want %v", pg.Title, termNames(got.Terms), termNames(want.Terms))
		}
		// And take it out again.
		removeFromTerms(got, pg)
		want = tags()
		buildTerms(want, rest)
		if !reflect.DeepEqual(got.Terms, want.Terms) {
			t.Errorf("removing %s: terms %v, want %v", pg.Title, termNames(got.Terms), termNames(want.Terms))
		}
	}
}

func termNames(ts []Term) []string {
	var out []string
	for _, t := range ts {
		var ps []string
		for _, p := range t.Pages {
			ps = append(ps, p.Title)
		}
		out = append(out, t.Name+":"+strings.Join(ps, ","))
	}
	return out
}

// renders is which output pages an update must write again. Each
// output page of the site is checked after each update step: a new page
// and one whose bytes changed are written, and by type:
//   - home and the taxonomies' indexes show every plan's terms: written
//     on every page edit, never on an asset's;
//   - a plan or plain page: when it is one of the edited pages;
//   - a term list, the stale and drills lists: when it shows an edited
//     page before or after the update (its HTML links the page: these
//     lists have no text of their own);
//   - a section, the 404 and Alerts pages: when render names them.
type renders struct {
	edited []string // site paths of the pages edited, added or deleted
	render []string // sections, Alerts: written; 404 never is
}

// rendered tells the pages the last update wrote.
func rendered(b *Builder) map[string]bool {
	out := map[string]bool{}
	for u, d := range b.pages {
		if d.made == b.memoGen && d.written {
			out[u] = true
		}
	}
	return out
}

// checkRenders holds the pages the last update of b wrote to want, and
// counts by page type what was written and what was kept in cov.
func checkRenders(t *testing.T, step string, b *Builder, before map[string][]byte, want renders, cov map[PageType][2]int) {
	t.Helper()
	after := b.Files()
	got := rendered(b)
	links := func(html []byte) bool {
		for _, u := range want.edited {
			if strings.Contains(string(html), strings.TrimPrefix(u, "/")+`"`) {
				return true
			}
		}
		return false
	}
	for u, d := range b.pages {
		f := outputFile(u)
		var must bool
		switch typ := d.page.Type; {
		case before[f] == nil, string(before[f]) != string(after[f]):
			must = true // new, or changed (a long list's pages shift)
		case typ == typeHome || typ == typeTerms:
			must = len(want.edited) > 0
		case typ == typePlan || typ == typePage:
			must = slices.Contains(want.edited, u)
		case typ == typeTerm || typ == typeStale || typ == typeDrills:
			must = links(before[f]) || links(after[f])
		default:
			must = slices.Contains(want.render, u)
		}
		if got[u] != must {
			t.Errorf("%s: %s page %s written %v, want %v", step, d.page.Type, u, got[u], must)
		}
		c := cov[d.page.Type]
		if got[u] {
			c[0]++
		} else {
			c[1]++
		}
		cov[d.page.Type] = c
	}
}

// checkCoverage fails for a page type no step wrote, or none kept. The
// 404 page reads nothing an update changes in place (the site's title
// and the stale count build the whole site): TestPageMemoFollowsSiteInputs
// changes what it shows.
func checkCoverage(t *testing.T, cov map[PageType][2]int) {
	t.Helper()
	for _, k := range pageTypes {
		if c := cov[k.typ]; c[0] == 0 && k.typ != typeNotFound || c[1] == 0 {
			t.Errorf("%s pages: written by %d checks, kept by %d: the steps must do both", k.typ, c[0], c[1])
		}
	}
}

// TestUpdateMatchesFullBuildOnEveryPageType: on a site with every page type (the
// example plans, their sections, drills and alerts, a stale plan, an
// alert runbook of an alert no rule has), each update writes exactly
// the pages whose records name what it changed, and gives the site a
// full build gives.
func TestUpdateMatchesFullBuildOnEveryPageType(t *testing.T) {
	root := cacheSite(t)
	file := func(rel string) string { return filepath.Join(root, "content", filepath.FromSlash(rel)) }
	write := func(rel, data string) {
		t.Helper()
		if err := os.WriteFile(file(rel), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(rel string) string {
		t.Helper()
		data, err := os.ReadFile(file(rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	write("edge/haproxy-2-8-upgrade.md", strings.Replace(read("edge/haproxy-2-8-upgrade.md"), "reviewed: 2026-10-29", "reviewed: 2025-01-02", 1))
	write("runbooks/OldAlertGone.md", "---\ntitle: OldAlertGone\nkind: alert\nseverity: warning\nservice: kubernetes\nowners: [team-platform]\nreviewed: 2026-11-18\n---\n\n## Meaning\n\nAn alert that was deleted.\n\n## Impact\n\nNone.\n\n## Diagnosis\n\nNone.\n\n## Mitigation\n\nNone.\n")
	b := memSite(t, root)
	kept := b.last
	ctx := context.Background()
	if b.pages["/stale/"] == nil || len(b.pages["/stale/"].lists) != 1 || b.pages["/alerts/"] == nil || len(b.pages["/alerts/"].lists) != 1 {
		t.Fatal("the test site needs one stale plan and one orphan alert runbook")
	}
	// The corpus puts its plain pages (notes) under a service's folder.
	notes, _ := filepath.Glob(file("generated/*/notes-*.md"))
	if len(notes) == 0 {
		t.Fatal("the generated corpus has no plain page")
	}
	note, _ := filepath.Rel(file(""), notes[0])
	note = filepath.ToSlash(note)
	cov := map[PageType][2]int{}
	for _, st := range []struct {
		name, rel string
		edit      func(string) string
		want      renders
	}{
		{"the stale plan's body", "edge/haproxy-2-8-upgrade.md", func(s string) string { return s + "\nOne more line.\n" },
			renders{edited: []string{"/edge/haproxy-2-8-upgrade/"}, render: []string{"/edge/"}}},
		{"a drilled plan's body", "payments/api-2-4-canary.md", func(s string) string { return s + "\nOne more line.\n" },
			renders{edited: []string{"/payments/api-2-4-canary/"}, render: []string{"/payments/"}}},
		{"a drilled plan's title", "payments/api-2-4-canary.md", func(s string) string {
			return regexp.MustCompile(`(?m)^title: .*$`).ReplaceAllString(s, "title: AAA payments canary")
		}, renders{edited: []string{"/payments/api-2-4-canary/"}, render: []string{"/payments/"}}},
		{"the orphan alert runbook", "runbooks/OldAlertGone.md", func(s string) string { return s + "\nOne more line.\n" },
			renders{edited: []string{"/runbooks/oldalertgone/"}, render: []string{"/runbooks/", "/alerts/"}}},
		{"a plain page", note, func(s string) string { return s + "\nOne more line.\n" },
			renders{edited: []string{"/" + strings.TrimSuffix(note, ".md") + "/"}}},
		{"a section's intro", "payments/_index.md", func(s string) string { return s + "\nMore about payments.\n" },
			renders{edited: []string{"/payments/"}, render: []string{"/payments/"}}},
		{"an asset", "payments/diagram.svg", func(string) string { return `<svg xmlns="http://www.w3.org/2000/svg"/>` }, renders{}},
	} {
		before := b.Files()
		old, _ := os.ReadFile(file(st.rel))
		write(st.rel, st.edit(string(old)))
		if _, err := b.Update(ctx, []string{file(st.rel)}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if b.last != kept {
			t.Fatalf("%s: the update built the whole site", st.name)
		}
		checkRenders(t, st.name, b, before, st.want, cov)
		sameSite(t, st.name, b.Files(), memSite(t, root).Files())
	}
	checkCoverage(t, cov)

	// The alert pages (/alerts/Name/) come from the rule files: a change
	// of one builds the whole site, and the pages follow it (the orphan
	// runbook's alert is back).
	rules := filepath.Join(root, "content", "runbooks", "rules", "kubernetes.yaml")
	data, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	back := "    rules:\n      - alert: OldAlertGone\n        expr: up == 0\n        for: 5m\n        labels:\n          severity: warning\n        annotations:\n          summary: It came back.\n"
	if err := os.WriteFile(rules, []byte(strings.Replace(string(data), "    rules:\n", back, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(ctx, []string{rules}); err != nil {
		t.Fatal(err)
	}
	if b.last == kept {
		t.Error("a changed rule file was applied in place")
	}
	got := b.Files()
	if _, ok := got["alerts/OldAlertGone/index.html"]; !ok {
		t.Error("the alert back in the rules has no page")
	}
	sameSite(t, "a rule file", got, memSite(t, root).Files())
}
