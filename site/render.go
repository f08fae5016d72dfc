package site

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/highlight"
	"github.com/rollbook/rollbook/internal/markdown"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/sitewrite"
	"github.com/rollbook/rollbook/internal/statesvg"
)

// view is what a template receives.
type view struct {
	Site *siteView
	Page *Page
}

// URL links from the current page to a site path, relatively.
func (v view) URL(to string) string {
	if v.Page.Type == "404" {
		// The 404 page is served at any depth, so it links from the base path.
		return v.Site.BasePath + strings.TrimPrefix(to, "/")
	}
	return relURL(v.Page.URL, to)
}

// Root is the relative path from the current page to the site root.
func (v view) Root() string { return v.URL("/") }

// Card renders the plan card of p as this page shows it. A plan sits on
// many term lists (its service, owner, kind, risk, environments, tags),
// and on those its card differs only by how deep the list is: term pages
// live under reserved folders no plan shares, so a link from one climbs
// to the root and down again. Each is rendered once per depth and reused.
func (v view) Card(p *Page) (template.HTML, error) {
	if v.Page.Type != "term" {
		return v.Site.theme.card(map[string]any{"V": v, "P": p})
	}
	k := cardKey{p, strings.Count(v.Page.URL, "/")}
	if c, ok := v.Site.cards.Load(k); ok {
		return c.(template.HTML), nil
	}
	c, err := v.Site.theme.card(map[string]any{"V": v, "P": p})
	if err == nil {
		v.Site.cards.Store(k, c)
	}
	return c, err
}

// Cards is each page's card, in order: a list page shows fifty, and one
// call from the template costs what fifty cost in calls alone.
func (v view) Cards(pages []*Page) (template.HTML, error) {
	cards := make([]template.HTML, len(pages))
	n := 0
	for i, p := range pages {
		c, err := v.Card(p)
		if err != nil {
			return "", err
		}
		cards[i] = c
		n += len(c)
	}
	var b strings.Builder
	b.Grow(n)
	for _, c := range cards {
		b.WriteString(string(c))
	}
	return template.HTML(b.String()), nil
}

// cardKey names a rendered card: the plan, and the depth of the term
// page's folder, which is all its relative links depend on.
type cardKey struct {
	p     *Page
	depth int
}

type siteView struct {
	Title       string
	Description string
	BaseURL     string
	BasePath    string
	Taxonomies  []*Taxonomy
	Plans       []*Page
	Stale       []*Page
	Now         time.Time
	Dev         bool // served by rollbook serve: live reload is injected
	// AlertsURL is the Alerts page's path, "" without alert_rules.
	AlertsURL string
	// Bundle: the site is the offline copy rollbook bundle writes (search
	// reads its index from a script, no service worker).
	Bundle bool

	editURL     func(rel string) string // nil without repo_url
	lastChanged map[string]time.Time    // content path -> last commit

	theme *theme
	cards *sync.Map // cardKey -> template.HTML
}

var funcs = template.FuncMap{
	"join":  strings.Join,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02")
	},
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 MST")
	},
	"urlize": urlize,
	"add":    func(a, b int) int { return a + b },
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		d := int(now.Sub(t).Hours() / 24)
		switch {
		case d <= 0:
			return "today"
		case d == 1:
			return "1 day ago"
		}
		return fmt.Sprintf("%d days ago", d)
	},
	"termURL": func(tax, term string) string { return "/" + tax + "/" + urlize(term) + "/" },
	"threshold": func(t plan.Trigger) string {
		var parts []string
		if t.IsHealth() {
			return fmt.Sprintf("%d failed probes", t.Failures)
		}
		if t.Compare == "baseline" && t.MaxDelta > 0 {
			parts = append(parts, "> baseline + "+t.MaxDelta.String())
		}
		if t.Max.Set {
			parts = append(parts, "> "+t.Max.Raw)
		}
		if t.Min.Set {
			parts = append(parts, "< "+t.Min.Raw)
		}
		return strings.Join(parts, ", ")
	},
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict needs key, value pairs")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"upto": func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i + 1
		}
		return out
	},
}

var hrefRE = regexp.MustCompile(`(href|src)="([^"]*)"`)

// renderPages renders every page's Markdown into it (with fill false it
// only checks the links).
func (b *Builder) renderPages(ctx context.Context, s *loaded, fill bool) error {
	display := strings.TrimSuffix(b.cfg.ContentDir, "/")
	assets := s.assetSet()
	return parallel(ctx, len(s.pages), func(i int) error {
		s.add(b.cfg.Severities().Apply(b.renderPage(s, assets, display, s.pages[i], fill))...)
		return nil
	})
}

// writeOutputs writes the pages outputs made, row by row of pageTypes
// (a list's key needs the keys of the pages it lists), each row's pages
// in parallel.
func (b *Builder) writeOutputs(ctx context.Context, sv *siteView, w *sitewrite.Writer, rows [][]*Page) error {
	for _, pages := range rows {
		if err := parallel(ctx, len(pages), func(i int) error { return b.writePage(w, sv, pages[i]) }); err != nil {
			return err
		}
	}
	return nil
}

// renderPage renders a page's Markdown into pg and resolves its links;
// with fill false it only checks the links.
func (b *Builder) renderPage(s *loaded, assets map[string]bool, display string, pg *Page, fill bool) diag.List {
	var ds diag.List
	name := path.Join(display, pg.Plan.Path)
	body, line := pg.Plan.Body, pg.Plan.BodyLine-1
	var bk buildcache.Key
	cached := b.store != nil && b.store.c != nil
	if cached {
		bk = b.store.bodyKey(body, line)
	}
	var res markdown.Result
	var htmlOf func() (template.HTML, error)
	var err error
	if b.cache != nil {
		// rollbook serve keeps its pages whole between updates.
		res, err = b.cache.render(func() (markdown.Result, error) { return b.store.render(b.md, bk, body, line) }, body, line)
	} else {
		res, htmlOf, err = b.store.renderLazy(b.md, bk, body, line)
	}
	if err != nil {
		return diag.List{diag.At(name, pg.Plan.BodyLine, 1).Error("markdown", err.Error(), "fix the Markdown")}
	}
	for _, f := range res.Findings {
		rule, _ := check.Lookup(f.Rule)
		ds = append(ds, diag.At(name, f.Line, f.Col).As(rule.Severity, f.Rule, f.Message, f.Fix))
	}
	rewrites := map[string]string{}
	src := pg.rec.source
	src.linksTo = src.linksTo[:0]
	pg.anchors, pg.external = pg.anchors[:0], pg.external[:0]
	for _, l := range res.Links {
		target, ok, internal := resolveLink(s, assets, pg, l.Dest)
		if !internal {
			switch {
			case strings.HasPrefix(l.Dest, "#"):
				if a, ok := pageLink(name, pg, l, pg.URL); ok {
					pg.anchors = append(pg.anchors, a)
				}
			case isHTTP(l.Dest):
				pg.external = append(pg.external, linkRef{file: name, line: l.Line, col: linkColumn(pg.Plan.Body, pg.Plan.BodyLine, l.Line, l.Dest), dest: l.Dest})
			}
			continue
		}
		col := linkColumn(pg.Plan.Body, pg.Plan.BodyLine, l.Line, l.Dest)
		if !ok {
			rel, frag, inRepo := b.repoFile(pg, l.Dest)
			switch {
			case inRepo && b.cfg.RepoURL != "":
				rewrites[l.Dest] = b.cfg.RepoFileURL(rel) + frag
			case inRepo:
				ds = append(ds, diag.At(name, l.Line, col).Error("broken-link",
					fmt.Sprintf("link %q points to %s, which is in the repository but not in the site", l.Dest, rel),
					"set repo_url: (for example https://github.com/acme/runbooks) in rollbook.yaml so links to repository files point to the repository"))
			default:
				ds = append(ds, diag.At(name, l.Line, col).Error("broken-link",
					fmt.Sprintf("link %q points to no page or file", l.Dest), "link to an existing page by its file (for example ../payments/api-canary.md), or write the page"))
			}
			continue
		}
		rewrites[l.Dest] = relURL(pg.URL, target)
		if a, ok := pageLink(name, pg, l, target); ok {
			pg.anchors = append(pg.anchors, a)
		}
		if i := strings.IndexAny(target, "?#"); i >= 0 {
			target = target[:i]
		}
		src.linksTo = append(src.linksTo, target)
	}
	ds = append(ds, b.frontMatterLinks(s, assets, name, pg)...)
	// Every page's ids are known before any fragment is checked
	// (checkAnchors), check included.
	pg.Headings = res.Headings
	if !fill {
		return ds
	}
	src.contentKey = buildcache.Key{}
	if cached {
		src.contentKey = b.store.c.Key("content", bk[:], rewritesKey(rewrites))
	}
	src.lazy = nil
	if htmlOf == nil {
		pg.Content = rewriteLinks(res.HTML, rewrites)
	} else {
		pg.Content = ""
		src.lazy = &lazyContent{fill: func() error {
			h, err := htmlOf()
			if err != nil {
				return fmt.Errorf("rendering %s: %w", name, err)
			}
			pg.Content = rewriteLinks(h, rewrites)
			return nil
		}}
	}
	if pg.Type == "plan" && pg.Plan.Kind != plan.KindAlert { // an alert runbook rolls nothing out
		pg.StateSVG = statesvg.Render(machine(pg))
	}
	return ds
}

// rewriteLinks points the body's links to other plans' files at their
// pages (rewrites maps a link as written to its target).
func rewriteLinks(h template.HTML, rewrites map[string]string) template.HTML {
	if len(rewrites) == 0 {
		return h
	}
	return template.HTML(hrefRE.ReplaceAllStringFunc(string(h), func(m string) string { //nolint:gosec // the body's own HTML with its hrefs escaped again
		sub := hrefRE.FindStringSubmatch(m)
		if to, ok := rewrites[html.UnescapeString(sub[2])]; ok {
			return sub[1] + `="` + html.EscapeString(to) + `"`
		}
		return m
	}))
}

// rewritesKey is rewrites in a form for a key: sorted, each value
// prefixed by its length.
func rewritesKey(rewrites map[string]string) []byte {
	var k []byte
	for _, from := range slices.Sorted(maps.Keys(rewrites)) {
		for _, s := range []string{from, rewrites[from]} {
			k = binary.AppendUvarint(k, uint64(len(s)))
			k = append(k, s...)
		}
	}
	return k
}

// writePage renders pg, or takes it from the build cache by its record.
func (b *Builder) writePage(w *sitewrite.Writer, sv *siteView, pg *Page) error {
	pg.rec.written = true
	out, release, err := b.memoPage(sv, pg.rec, func() ([]byte, error) {
		if err := pg.ensureContent(); err != nil {
			return nil, err
		}
		return b.theme.render(pg.Type, view{Site: sv, Page: pg})
	})
	if err != nil {
		return fmt.Errorf("rendering %s: %w", pg.URL, err)
	}
	return w.WriteThen(outputFile(pg.URL), out, release)
}

func machine(pg *Page) statesvg.Machine {
	m := statesvg.Machine{Automatic: pg.Plan.Rollback.Automatic}
	for _, s := range pg.Plan.Strategy.Steps {
		bake := ""
		if s.Bake > 0 {
			bake = s.Bake.String()
		}
		m.Steps = append(m.Steps, statesvg.Step{Weight: s.Weight, Bake: bake})
	}
	for _, mv := range pg.Migrations {
		if mv.Safety == "contract" {
			m.MigrationGuard = true
		}
		g := statesvg.Migration{ID: mv.ID, At: statesvg.NotPlaced, When: mv.RunsText(), Unsafe: mv.Contract && mv.Timing.PreviousServes(pg.Plan.Strategy.Steps)}
		switch t := mv.Timing; t.Runs {
		case plan.RunsPreDeploy:
			g.At = statesvg.BeforeSteps
		case plan.RunsPostDeploy:
			g.At = statesvg.AfterPromotion
		case plan.RunsDuringDeploy:
			if _, ok := t.Step(pg.Plan.Strategy.Steps); ok {
				g.At = t.AtStep
			}
		}
		m.Migrations = append(m.Migrations, g)
	}
	return m
}

// resolveLink finds the site path a Markdown link points to. internal is
// false for links rollbook does not check (other sites, mail, anchors).
func resolveLink(s *loaded, assets map[string]bool, pg *Page, dest string) (target string, ok, internal bool) {
	if dest == "" || strings.HasPrefix(dest, "#") || strings.HasPrefix(dest, "//") {
		return "", false, false
	}
	if i := strings.IndexAny(dest, ":/?#"); i >= 0 && dest[i] == ':' {
		return "", false, false // a scheme: http:, mailto:, …
	}
	p, frag := dest, ""
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p, frag = p[:i], p[i:]
	}
	if p == "" {
		return "", false, false
	}
	if strings.HasPrefix(p, "/") {
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if _, found := s.byURL[clean]; found || reservedURL(clean) || clean == "/" || s.alertPage(clean) {
			return clean + frag, true, true
		}
		if _, found := s.byURL[clean+"/"]; found {
			return clean + "/" + frag, true, true
		}
		if assets[strings.TrimPrefix(clean, "/")] {
			return clean + frag, true, true
		}
		return "", false, true
	}
	dir := path.Dir(pg.Plan.Path)
	target = path.Join(dir, p)
	if strings.HasPrefix(target, "../") || target == ".." {
		return "", false, true
	}
	if strings.EqualFold(path.Ext(target), ".md") {
		if t, found := s.byPath[target]; found {
			return t.URL + frag, true, true
		}
		// A README.md the folder's _index.md won over: its folder's page.
		if t := folderPage(s, path.Dir(target)); t != nil && plan.IndexRank(path.Base(target)) >= 0 {
			return t.URL + frag, true, true
		}
		return "", false, true
	}
	if assets[target] {
		return "/" + target + frag, true, true
	}
	if t := folderPage(s, target); t != nil {
		return t.URL + frag, true, true
	}
	// A URL-style link, relative to the page's URL.
	u := path.Join(path.Dir(strings.TrimSuffix(pg.URL, "/")+"/x"), p)
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	if _, found := s.byURL[u]; found {
		return u + frag, true, true
	}
	return "", false, true
}

// folderIndexFiles are the index file names looked up for a folder link,
// with the other spellings of README.md GitHub shows as the folder page.
var folderIndexFiles = append(slices.Clone(plan.IndexNames), "readme.md", "Readme.md")

// folderPage returns the page of a content folder (slash path, "." for
// the top): its index page, or nil when it has none.
func folderPage(s *loaded, dir string) *Page {
	for _, n := range folderIndexFiles {
		if pg := s.byPath[path.Join(dir, n)]; pg != nil {
			return pg
		}
	}
	return nil
}

// parentFolder is the folder whose section page lists pg: a folder's
// index page is listed by the folder above it.
func parentFolder(pg *Page) string {
	dir := path.Dir(pg.Plan.Path)
	if plan.IndexRank(path.Base(pg.Plan.Path)) >= 0 {
		return path.Dir(dir)
	}
	return dir
}

// view returns the site as templates see it, made once per build.
func (b *Builder) view(s *loaded) *siteView {
	if s.sv == nil {
		s.sv = b.siteView(s)
	}
	return s.sv
}

// updateView puts cur in the place of old in the site's lists, sorting
// again only what the edit can reorder. A term's list is replaced, not
// changed in place: the records of the lists made from it keep it.
func updateView(sv *siteView, plans []*Page, old, cur *Page) {
	replace := func(ps []*Page) {
		for i, p := range ps {
			if p == old {
				ps[i] = cur
			}
		}
	}
	sv.forget(old)
	reorder := cur.Title != old.Title || cur.Plan.Weight != old.Plan.Weight
	replace(sv.Plans)
	replace(sv.Stale)
	if reorder {
		sortPages(sv.Plans)
		sortPages(sv.Stale)
	}
	for _, tax := range sv.Taxonomies {
		if slices.Equal(tax.Values(old.Plan), tax.Values(cur.Plan)) {
			removeFromTerms(tax, old)
			addToTerms(tax, cur)
			continue
		}
		buildTerms(tax, plans)
	}
}

// forget drops the cached cards of a page that was replaced or deleted.
func (sv *siteView) forget(old *Page) {
	sv.cards.Range(func(k, _ any) bool {
		if k.(cardKey).p == old {
			sv.cards.Delete(k)
		}
		return true
	})
}

func (b *Builder) siteView(s *loaded) *siteView {
	sv := &siteView{Title: b.cfg.Title, Description: b.cfg.Description, BaseURL: b.cfg.BaseURL, BasePath: b.cfg.BasePath(), Now: b.now(), Plans: s.plans, Dev: b.opts.Dev, Bundle: b.opts.Bundle,
		theme: b.theme, cards: &sync.Map{}, lastChanged: b.lastChanged}
	if s.alerts != nil && s.byURL[alertsListURL] == nil {
		sv.AlertsURL = alertsListURL
	}
	if b.cfg.RepoURL != "" {
		sv.editURL = func(rel string) string { return b.cfg.EditURL(b.projectPath(rel)) }
	}
	for _, pg := range s.plans {
		if pg.Stale {
			sv.Stale = append(sv.Stale, pg)
		}
	}
	sortPages(sv.Plans)
	sortPages(sv.Stale)
	for _, tax := range taxonomies() {
		buildTerms(tax, s.plans)
		sv.Taxonomies = append(sv.Taxonomies, tax)
	}
	return sv
}

// writeGenerated writes what the site has beside its pages: the alert
// and alias redirects, static files, content assets and the sitemap of
// the pages rows holds.
func (b *Builder) writeGenerated(ctx context.Context, s *loaded, w *sitewrite.Writer, rows [][]*Page) error {
	if err := b.writeAlerts(ctx, s, w); err != nil {
		return err
	}
	for alias, to := range s.aliases {
		if err := w.Write(outputFile(alias), redirectPage(relURL(alias, to))); err != nil {
			return err
		}
	}
	for name, data := range b.theme.static {
		if err := w.Write(name, data); err != nil {
			return err
		}
	}
	if err := w.Write("chroma.css", highlight.CSS()); err != nil {
		return err
	}
	for _, a := range s.assets {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := w.CopyFile(a.Rel, a.Abs); err != nil {
			return err
		}
	}
	var urls []string
	for i, pages := range rows {
		if pageTypes[i].sitemap {
			for _, pg := range pages {
				urls = append(urls, pg.URL)
			}
		}
	}
	return w.Write("sitemap.xml", sitemap(b.cfg.AbsURL, urls))
}

// drilled returns the plans the drills page lists: those with a game-day
// block or a drill on record.
func drilled(plans []*Page) []*Page {
	var out []*Page
	for _, pg := range plans {
		if len(pg.Plan.Gameday.Scenarios) > 0 || pg.Drill != nil {
			out = append(out, pg)
		}
	}
	return out
}

// homePlans is how many plans the home page lists.
const homePlans = 30

// recent returns up to n plans, most recently reviewed first. It keeps
// only the n best while it scans: sorting ten thousand plans for thirty
// would be most of a page edit's cost in rollbook serve.
func recent(plans []*Page, n int) []*Page {
	newer := func(a, b *Page) bool {
		x, y := a.Plan.Reviewed.Time, b.Plan.Reviewed.Time
		if !x.Equal(y) {
			return x.After(y)
		}
		return a.URL < b.URL
	}
	out := make([]*Page, 0, n+1)
	for _, pg := range plans {
		if len(out) == n && !newer(pg, out[n-1]) {
			continue
		}
		at := sort.Search(len(out), func(i int) bool { return newer(pg, out[i]) })
		out = append(out, nil)
		copy(out[at+1:], out[at:])
		out[at] = pg
		if len(out) > n {
			out = out[:n]
		}
	}
	return out
}

// redirectPage is a static page that sends the browser on to to (an
// alias, an alert's stable URL). A meta refresh drops the ?query and the
// #fragment the visitor came with, and a runbook_url's #mitigation or a
// pager's ?from= must survive: the script carries them over (the
// visitor's fragment wins over to's, to's query parameters over theirs
// of the same name). The refresh remains for browsers without scripts.
func redirectPage(to string) []byte {
	t := html.EscapeString(to)
	js, _ := json.Marshal(to) // json escapes <, > and &: safe in a script
	return []byte(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Moved</title><link rel="canonical" href="` + t + `">` +
		`<script>(function(){var u=new URL(` + string(js) + `,location.href),own=new URLSearchParams(u.search);new URLSearchParams(location.search).forEach(function(v,k){if(!own.has(k))u.searchParams.append(k,v)});if(location.hash.length>1)u.hash=location.hash;location.replace(u.href)})()</script>` +
		`<meta http-equiv="refresh" content="0; url=` + t + `"></head><body><p>This page moved to <a href="` + t + `">` + t + `</a>.</p></body></html>`)
}

// sitemap lists urls, sorted, as absolute URLs.
func sitemap(abs func(string) string, urls []string) []byte {
	slices.Sort(urls)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` + "\n")
	for _, u := range urls {
		b.WriteString("  <url><loc>")
		b.WriteString(html.EscapeString(abs(u)))
		b.WriteString("</loc></url>\n")
	}
	b.WriteString("</urlset>\n")
	return b.Bytes()
}
