package site

import (
	"cmp"
	"fmt"
	"html/template"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/markdown"
	"github.com/rollbook/rollbook/internal/migrate"
	"github.com/rollbook/rollbook/internal/plan"
)

// Page is one output page as templates see it.
type Page struct {
	// Type selects the template (one row of pageTypes).
	Type  PageType
	URL   string // site path, "/payments/api-canary/"
	Title string
	Plan  *plan.Plan

	Content template.HTML
	// Own is what the page shows of itself; the build cache keys it whole.
	Own

	// What the page shows of other pages. Each is set where the page is
	// made (pagetypes.go) and named there in its record, whose key holds
	// the listed pages' own keys: TestPageFieldsAreKeyed fails for a field
	// that is in neither Own nor the record.
	Pages    []*Page // a list's plans
	Terms    []Term
	Taxonomy *Taxonomy
	// Section pages: the folder's own intro comes from _index.md.
	Children  []*Page
	AlertList *AlertList

	// anchors are the page's links with a #fragment into the site (its
	// Markdown's and its front matter's), checked once every page's ids
	// are known; external are its http(s) links, for check --external.
	anchors  []linkRef
	external []linkRef
	// rec is the page's record as an output page (deps.go): what it was
	// read and rendered from, and its key in the build cache.
	rec *deps
}

// Own is what a page shows of itself, none of it another page's: all of
// it goes into the page's key in the build cache (TestOwnHoldsNoPages).
type Own struct {
	Headings []markdown.Heading
	Summary  string

	Migrations []MigrationView
	StateSVG   template.HTML
	Stale      bool
	Warnings   diag.List
	Drill      *DrillStatus
	// Scenarios is the last drill of each scenario; DrillHistory the
	// recent drills, newest first.
	Scenarios    []ScenarioResult
	DrillHistory []ScenarioResult
	HistoryChart template.HTML
	// Exports are the plan's policy as controller manifests, or why not.
	Exports []ExportLink
	// Alerts are the alerting rules an alert runbook explains (Alert panel).
	Alerts []*AlertView

	// Term is the value a term list shows; Pager is set on a list split
	// over several pages.
	Term  string
	Pager *Pager
}

type lazyContent struct {
	once sync.Once
	fill func() error
	err  error
}

// ensureContent fills Content if it is still to be read from the cache.
func (pg *Page) ensureContent() error {
	if pg.rec == nil || pg.rec.source == nil || pg.rec.lazy == nil {
		return nil
	}
	l := pg.rec.lazy
	l.once.Do(func() { l.err = l.fill() })
	return l.err
}

// MigrationView is a declared migration with what its SQL analysis found.
type MigrationView struct {
	plan.Migration
	Safety   string // expand or contract, from the SQL when it could be read
	Findings []migrate.Finding
	Link     string // site path of the SQL file
	// Locks are the lock rules its SQL breaks, each with the lock the
	// statement takes and the safe way to write it.
	Locks []migrate.Finding
	// Contract: declared phase: contract, or the SQL analysis found a
	// contract change; it decides the default timing.
	Contract bool
	// Timing is when the migration runs (plan.Migration.Timing), and
	// When says it for a person with the plan's steps (Timing.Describe).
	Timing plan.Timing
	When   string
}

// RunsText says when the migration runs, for the plan page and the state
// machine: "post-deploy — after promotion to 100 %, then a bake", with
// "(default)" when the plan does not write runs:.
func (v MigrationView) RunsText() string {
	s := v.When
	if v.Timing.Runs != plan.RunsManual {
		s = v.Timing.Runs + " — " + s
	}
	if v.Timing.Defaulted {
		s += " (default)"
	}
	return s
}

// DrillStatus summarises a plan's last drills (filled by the drill reader).
type DrillStatus struct {
	Result string // pass, fail, none
	When   time.Time
	// LastPass is the newest drill whose scenarios all passed.
	LastPass time.Time
	// Overdue: no passing drill within two schedule periods.
	Overdue bool
}

// ExportLink is one exported manifest of a plan.
type ExportLink struct {
	Controller string // "Argo Rollouts", "Flagger"
	URL        string // site path of the YAML, "" when refused
	Refused    string // why the controller gets no manifest
}

// Pager places one page of a long list among its siblings.
type Pager struct {
	Number, Total int
	Prev, Next    string // site paths, "" at the ends
	First         int    // 1-based position of the page's first item
	Of            int    // items in the whole list
}

// listPageSize is how many plans one list page shows: a list of every
// production plan on a large site would be megabytes nobody scrolls.
const listPageSize = 100

// pagerURL is the site path of page n of the list at base.
func pagerURL(base string, n int) string {
	if n <= 1 {
		return base
	}
	return fmt.Sprintf("%spage/%d/", base, n)
}

// paginate splits a term's sorted pages into list pages.
func paginate(tax *Taxonomy, t Term, pages []*Page) []*Page {
	total := max(1, (len(pages)+listPageSize-1)/listPageSize)
	out := make([]*Page, 0, total)
	for n := 1; n <= total; n++ {
		lo, hi := (n-1)*listPageSize, min(len(pages), n*listPageSize)
		pg := &Page{Type: typeTerm, URL: pagerURL(t.URL, n), Title: tax.Single + ": " + t.Name, Taxonomy: tax, Own: Own{Term: t.Name}, Pages: pages[lo:hi]}
		if total > 1 {
			pg.Pager = &Pager{Number: n, Total: total, First: lo + 1, Of: len(pages)}
			if n > 1 {
				pg.Pager.Prev = pagerURL(t.URL, n-1)
				pg.Title += fmt.Sprintf(" (page %d)", n)
			}
			if n < total {
				pg.Pager.Next = pagerURL(t.URL, n+1)
			}
		}
		out = append(out, pg)
	}
	return out
}

// Term is one value of a taxonomy with the pages that carry it.
type Term struct {
	Name string
	URL  string
	// Pages are in list order (comparePages), and never changed in place:
	// a list page's record keeps the slice it was made from.
	Pages []*Page
}

// Taxonomy is a way to list plans: by service, owner, environment, …
type Taxonomy struct {
	Key    string // URL segment, "services"
	Title  string // "Services"
	Single string // "service"
	Values func(*plan.Plan) []string
	Terms  []Term
}

func taxonomies() []*Taxonomy {
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	return []*Taxonomy{
		{Key: "services", Title: "Services", Single: "service", Values: func(p *plan.Plan) []string { return one(p.Service) }},
		{Key: "owners", Title: "Owners", Single: "owner", Values: func(p *plan.Plan) []string { return p.Owners }},
		{Key: "environments", Title: "Environments", Single: "environment", Values: func(p *plan.Plan) []string { return p.Environments }},
		{Key: "kinds", Title: "Kinds", Single: "kind", Values: func(p *plan.Plan) []string { return one(p.Kind) }},
		{Key: "risks", Title: "Risk", Single: "risk", Values: func(p *plan.Plan) []string { return one(p.Risk) }},
		{Key: "tags", Title: "Tags", Single: "tag", Values: func(p *plan.Plan) []string { return p.Tags }},
	}
}

// pageURL derives a page's site path from its source path, slug and url.
func pageURL(p *plan.Plan) (string, error) {
	if p.URL != "" {
		u := p.URL
		for _, seg := range strings.Split(u, "/") {
			if seg == ".." || strings.ContainsAny(seg, "\\\x00") {
				return "", fmt.Errorf("url %q escapes the output folder", p.URL)
			}
		}
		u = path.Clean("/" + u)
		if path.Ext(u) == "" {
			u += "/"
		}
		if u == "//" {
			u = "/"
		}
		return u, nil
	}
	dir, file := path.Split(p.Path)
	base := strings.TrimSuffix(file, path.Ext(file))
	if p.Slug != "" {
		if strings.ContainsAny(p.Slug, "/\\\x00") || p.Slug == ".." || p.Slug == "." {
			return "", fmt.Errorf("slug %q must be one path segment; write a name such as payments-canary", p.Slug)
		}
		base = p.Slug
	}
	if base == "_index" || base == "index" || p.Slug == "" && plan.IndexRank(file) >= 0 {
		return path.Clean("/"+dir) + trailing(dir), nil
	}
	return path.Clean("/"+dir+"/"+urlize(base)) + "/", nil
}

func trailing(dir string) string {
	if dir == "" {
		return ""
	}
	return "/"
}

// urlize lower-cases a name and replaces spaces, keeping it readable.
func urlize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	dash := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
			dash = false
		case r > 127:
			b.WriteRune(r)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// outputFile maps a site path to a file in the output folder.
func outputFile(url string) string {
	if strings.HasSuffix(url, "/") {
		return strings.TrimPrefix(url, "/") + "index.html"
	}
	return strings.TrimPrefix(url, "/")
}

// relURL returns the link from page `from` to site path `to`, relative so
// the site works under any base path and from the file system.
func relURL(from, to string) string {
	if strings.Contains(to, "://") || strings.HasPrefix(to, "#") || strings.HasPrefix(to, "mailto:") {
		return to
	}
	dir := from
	if !strings.HasSuffix(dir, "/") {
		dir = strings.TrimSuffix(path.Dir(dir), "/") + "/"
	}
	fromSegs := strings.Split(strings.Trim(dir, "/"), "/")
	if fromSegs[0] == "" {
		fromSegs = nil
	}
	target := strings.TrimPrefix(to, "/")
	// Climb only as far as the first folder the two paths do not share.
	common := 0
	for common < len(fromSegs) && strings.HasPrefix(target, fromSegs[common]+"/") {
		target = target[len(fromSegs[common])+1:]
		common++
	}
	rel := strings.Repeat("../", len(fromSegs)-common) + target
	if rel == "" {
		return "./"
	}
	return rel
}

func sortPages(ps []*Page) {
	sort.SliceStable(ps, func(i, j int) bool { return comparePages(ps[i], ps[j]) < 0 })
}

// comparePages is the order of lists: by weight, title, then URL.
func comparePages(a, b *Page) int {
	if a.Plan != nil && b.Plan != nil && a.Plan.Weight != b.Plan.Weight {
		return cmp.Compare(a.Plan.Weight, b.Plan.Weight)
	}
	if a.Title != b.Title {
		return strings.Compare(a.Title, b.Title)
	}
	return strings.Compare(a.URL, b.URL)
}

// addToTerms puts a new plan page in the terms of its values, in list
// order, as buildTerms over every plan would; removeFromTerms takes one
// out. A new or deleted plan in the live preview changes a few terms,
// and building all of them again reads every plan of the site, which
// would make a save's update grow with the site. Each term changed gets
// a new slice: the old one may still be shown.
func addToTerms(tax *Taxonomy, pg *Page) {
	for _, v := range tax.Values(pg.Plan) {
		i, found := termIndex(tax, v)
		if !found {
			tax.Terms = slices.Insert(slices.Clone(tax.Terms), i, Term{Name: v, URL: termURL(tax, v), Pages: []*Page{pg}})
			continue
		}
		t := tax.Terms[i]
		at, _ := slices.BinarySearchFunc(t.Pages, pg, comparePages)
		t.Pages = slices.Insert(slices.Clone(t.Pages), at, pg)
		tax.Terms = slices.Clone(tax.Terms)
		tax.Terms[i] = t
	}
}

func removeFromTerms(tax *Taxonomy, pg *Page) {
	for _, v := range tax.Values(pg.Plan) {
		i, found := termIndex(tax, v)
		if !found {
			continue
		}
		t := tax.Terms[i]
		at := slices.Index(t.Pages, pg)
		if at < 0 {
			continue
		}
		tax.Terms = slices.Clone(tax.Terms)
		if len(t.Pages) == 1 {
			tax.Terms = slices.Delete(tax.Terms, i, i+1)
			continue
		}
		t.Pages = slices.Delete(slices.Clone(t.Pages), at, at+1)
		tax.Terms[i] = t
	}
}

func buildTerms(tax *Taxonomy, plans []*Page) {
	byTerm := map[string][]*Page{}
	for _, pg := range plans {
		for _, v := range tax.Values(pg.Plan) {
			byTerm[v] = append(byTerm[v], pg)
		}
	}
	names := make([]string, 0, len(byTerm))
	for n := range byTerm {
		names = append(names, n)
	}
	sort.Strings(names)
	tax.Terms = nil
	for _, n := range names {
		tax.Terms = append(tax.Terms, Term{Name: n, URL: termURL(tax, n), Pages: byTerm[n]})
	}
}

// termURL is the list page of one value of a taxonomy.
func termURL(tax *Taxonomy, value string) string { return "/" + tax.Key + "/" + urlize(value) + "/" }

// termIndex finds a value's term among tax.Terms, which are sorted by
// name: its index, or where it would go.
func termIndex(tax *Taxonomy, value string) (int, bool) {
	return slices.BinarySearchFunc(tax.Terms, value, func(t Term, v string) int { return strings.Compare(t.Name, v) })
}
