package site

import (
	"fmt"
	"html"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/markdown"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/statesvg"
)

// linkRef is one link as written: in a page's Markdown, in its front
// matter or in an alerting rule's runbook_url, with where it was written.
type linkRef struct {
	file      string // as findings name it, "content/payments/x.md"
	line, col int
	dest      string // as written
	// target is the site path of the page an internal link reaches,
	// without query or fragment; "" for an external link.
	target string
	// frag is the fragment, percent-decoded as a browser does before it
	// looks for the element; "" when the link has none.
	frag string
}

// fragmentOf is dest's fragment, percent-decoded as a browser decodes it
// before it looks for the element, and whether dest has one.
func fragmentOf(dest string) (frag string, ok bool) {
	i := strings.IndexByte(dest, '#')
	if i < 0 {
		return "", false
	}
	raw := dest[i+1:]
	if f, err := url.PathUnescape(raw); err == nil {
		return f, true
	}
	return raw, true
}

// linkColumn is the column (in characters, 1-based) where dest is written
// on line of body (file lines, body starting at bodyLine), or 1 when it
// is not written as it is (an escaped or reference-style destination).
func linkColumn(body []byte, bodyLine, line int, dest string) int {
	n := line - bodyLine
	for n > 0 && len(body) > 0 {
		i := strings.IndexByte(string(body), '\n')
		if i < 0 {
			return 1
		}
		body = body[i+1:]
		n--
	}
	text := body
	if i := strings.IndexByte(string(text), '\n'); i >= 0 {
		text = text[:i]
	}
	// The destination follows "](" or "<" in an inline link, ": " in a
	// reference definition; looking for it with its opener first keeps a
	// link text that repeats the URL from being taken for it.
	for _, open := range []string{"](", "](<", "<", ": ", ""} {
		if i := strings.Index(string(text), open+dest); i >= 0 {
			return utf8.RuneCount(text[:i+len(open)]) + 1
		}
	}
	return 1
}

// frontMatterLinks are the links a page's front matter writes under keys
// rollbook does not know (params, see_also, dashboards: …): values that
// are http(s) URLs, Markdown files or site paths with a fragment. Other
// strings (a log path, a command) are not taken for links.
func frontMatterLinks(p *plan.Plan, file string) []linkRef {
	var out []linkRef
	for _, key := range slices.Sorted(maps.Keys(p.Params)) {
		pos := p.Pos(key)
		walkStrings(p.Params[key], func(s string) {
			if looksLikeLink(s) {
				out = append(out, linkRef{file: file, line: pos.Line, col: pos.Col, dest: s})
			}
		})
	}
	return out
}

func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(strings.TrimSpace(x))
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			walkStrings(x[k], f)
		}
	}
}

func looksLikeLink(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\n") {
		return false
	}
	if isHTTP(s) {
		return true
	}
	p, _, hasFrag := strings.Cut(s, "#")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if strings.EqualFold(path.Ext(p), ".md") {
		return true
	}
	return hasFrag && (p == "" || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../"))
}

// isHTTP reports whether s is an absolute http or https URL.
func isHTTP(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	return ok && (strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https"))
}

// anchorIDs are the ids a page can be linked to at: its headings' ids,
// first, then the ids the theme gives its panels and generated sections.
type anchorIDs struct {
	headings []string        // for the fix's "did you mean", in page order
	body     int             // headings[:body] are the Markdown's, which {#id} can pin
	all      map[string]bool // every id and <a name> of the page
}

var idAttrRE = regexp.MustCompile(`\s(?:id|name)="([^"]+)"`)
var headingIDRE = regexp.MustCompile(`<h[1-6][^>]*\sid="([^"]+)"`)

// anchorChecker checks every fragment of a build or an update against
// the ids of the pages they reach; each page's ids are gathered once.
type anchorChecker struct {
	b     *Builder
	s     *loaded
	page  func(u string) *Page // the page at a site path as it is now
	ids   map[*Page]*anchorIDs
	whole map[*Page]bool // ids include the theme's
}

func (b *Builder) newAnchorChecker(s *loaded, page func(string) *Page) *anchorChecker {
	return &anchorChecker{b: b, s: s, page: page, ids: map[*Page]*anchorIDs{}, whole: map[*Page]bool{}}
}

// checkAnchors reports each link of pages (and each alert's runbook_url)
// whose fragment names no id on the page it reaches. page looks a page up
// by site path as the site will be (rollbook serve's edits in place of
// the pages they replace).
func (b *Builder) checkAnchors(s *loaded, pages []*Page, page func(string) *Page) diag.List {
	c := b.newAnchorChecker(s, page)
	var ds diag.List
	for _, pg := range pages {
		for _, l := range pg.anchors {
			if f, ok := c.check(l); !ok {
				ds = append(ds, f)
			}
		}
	}
	if s.alerts != nil {
		for _, j := range s.alerts.Alerts {
			if j.Page == nil || j.State != alertrule.Internal {
				continue
			}
			v := strings.TrimSpace(j.URL.Value)
			frag, ok := fragmentOf(v)
			if !ok {
				continue
			}
			l := linkRef{file: j.File, line: j.URL.Pos.Line, col: j.URL.Pos.Col, dest: v, target: j.Page.URL, frag: frag}
			if f, ok := c.check(l); !ok {
				f.Message = fmt.Sprintf("runbook_url of alert %s: %s", j.Name, f.Message)
				ds = append(ds, f)
			}
		}
	}
	return b.cfg.Severities().Apply(ds)
}

// check reports whether l's fragment is an id of its target page, and the
// finding when it is not.
func (c *anchorChecker) check(l linkRef) (diag.Finding, bool) {
	// An empty fragment and #top scroll to the top (HTML's "indicated part").
	if l.frag == "" || strings.EqualFold(l.frag, "top") {
		return diag.Finding{}, true
	}
	pg := c.targetPage(l.target)
	if pg == nil {
		return diag.Finding{}, true // a generated list page: its ids are the theme's
	}
	ids := c.idsOf(pg, false)
	if ids.all[l.frag] {
		return diag.Finding{}, true
	}
	ids = c.idsOf(pg, true)
	if ids.all[l.frag] {
		return diag.Finding{}, true
	}
	where := "this page"
	if l.target != "" && !strings.HasPrefix(l.dest, "#") {
		where = pg.URL
		if pg.Plan != nil {
			where = path.Join(c.b.displayDir(), pg.Plan.Path)
		}
	}
	msg := fmt.Sprintf("link %q: #%s is no heading or anchor of %s", l.dest, l.frag, where)
	fix := "add {#" + l.frag + "} to the heading it means, or remove the fragment"
	if best := closestID(l.frag, ids.headings); best != "" {
		fix = fmt.Sprintf("link to #%s (the closest id there), or pin the old id on its heading with {#%s}", best, l.frag)
		if !slices.Contains(ids.headings[:ids.body], best) {
			fix = fmt.Sprintf("link to #%s (the closest id there)", best)
		}
		if strings.EqualFold(best, l.frag) {
			fix = fmt.Sprintf("write #%s: ids are matched with their case", best)
		}
	}
	return diag.At(l.file, l.line, l.col).Error("broken-anchor", msg, fix), false
}

// targetPage is the page at site path u; an alert's stable URL
// (/alerts/Name/) reaches the runbook it redirects to.
func (c *anchorChecker) targetPage(u string) *Page {
	if pg := c.page(u); pg != nil {
		return pg
	}
	if c.s.alerts == nil {
		return nil
	}
	name, ok := strings.CutPrefix(u, "/alerts/")
	name = strings.TrimSuffix(name, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil
	}
	for _, j := range c.s.alerts.Named(name) {
		if j.Page != nil {
			return c.page(j.Page.URL)
		}
	}
	return nil
}

// idsOf gathers a page's ids: its headings' (cheap, known from the
// Markdown), and with whole the page as the theme renders it, which only
// a fragment that names no heading costs.
func (c *anchorChecker) idsOf(pg *Page, whole bool) *anchorIDs {
	ids := c.ids[pg]
	if ids == nil {
		ids = &anchorIDs{all: make(map[string]bool, len(pg.Headings))}
		for _, h := range pg.Headings {
			ids.headings = append(ids.headings, h.ID)
			ids.all[h.ID] = true
		}
		ids.body = len(ids.headings)
		c.ids[pg] = ids
	}
	if !whole || c.whole[pg] {
		return ids
	}
	c.whole[pg] = true
	out, err := c.b.theme.render(pg.Type, view{Site: c.b.view(c.s), Page: c.renderable(pg)})
	if err != nil {
		return ids
	}
	for _, m := range headingIDRE.FindAllSubmatch(out, -1) {
		if id := string(m[1]); !ids.all[id] {
			ids.headings = append(ids.headings, id)
		}
	}
	for _, m := range idAttrRE.FindAllSubmatch(out, -1) {
		ids.all[html.UnescapeString(string(m[1]))] = true
	}
	return ids
}

// renderable is pg as a full build shows it: check renders no body and
// writes no exports, yet their ids are on the page.
func (c *anchorChecker) renderable(pg *Page) *Page {
	cp := *pg
	if err := pg.ensureContent(); err == nil {
		cp.Content = pg.Content
	}
	if cp.Content == "" && pg.Plan != nil {
		if res, err := c.b.md.Render(pg.Plan.Body, pg.Plan.BodyLine-1); err == nil {
			cp.Content = res.HTML
		}
	}
	if cp.Type == "plan" && cp.StateSVG == "" && pg.Plan.Kind != plan.KindAlert {
		cp.StateSVG = statesvg.Render(machine(pg))
	}
	if cp.Type == "plan" && cp.Exports == nil {
		cp.Exports = []ExportLink{{Controller: "export"}} // every plan page has the panel
	}
	return &cp
}

// pageLink is the linkRef of a Markdown link with a fragment to target
// (a site path), and whether it has one.
func pageLink(file string, pg *Page, l markdown.Link, target string) (linkRef, bool) {
	frag, ok := fragmentOf(l.Dest)
	if !ok {
		return linkRef{}, false
	}
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	col := linkColumn(pg.Plan.Body, pg.Plan.BodyLine, l.Line, l.Dest)
	return linkRef{file: file, line: l.Line, col: col, dest: l.Dest, target: target, frag: frag}, true
}

// frontMatterLinks resolves the links of pg's front matter like its
// Markdown's: a page or file that is not there is a broken-link finding,
// a fragment is checked with the rest (pg.anchors), an http(s) URL is
// kept for check --external.
func (b *Builder) frontMatterLinks(s *loaded, assets map[string]bool, name string, pg *Page) diag.List {
	var ds diag.List
	for _, l := range frontMatterLinks(pg.Plan, name) {
		if isHTTP(l.dest) {
			pg.external = append(pg.external, l)
			continue
		}
		frag, hasFrag := fragmentOf(l.dest)
		target := pg.URL
		if !strings.HasPrefix(l.dest, "#") {
			t, ok, internal := resolveLink(s, assets, pg, l.dest)
			if !internal {
				continue
			}
			if !ok {
				ds = append(ds, diag.At(l.file, l.line, l.col).Error("broken-link",
					fmt.Sprintf("front matter link %q points to no page or file", l.dest), "link to an existing page by its file (for example ../payments/api-canary.md), or write the page"))
				continue
			}
			target = t
		}
		if hasFrag {
			if i := strings.IndexAny(target, "?#"); i >= 0 {
				target = target[:i]
			}
			l.target, l.frag = target, frag
			pg.anchors = append(pg.anchors, l)
		}
	}
	return ds
}

// editedPages is the site's pages with rollbook serve's edits applied,
// and the page at each site path as it will be once they are.
func editedPages(s *loaded, edits []*edit) ([]*Page, func(string) *Page) {
	now := map[*Page]*Page{}
	var added []*Page
	for _, e := range edits {
		switch {
		case e.old == nil:
			added = append(added, e.cur)
		default:
			now[e.old] = e.cur // nil: deleted
		}
	}
	pages := make([]*Page, 0, len(s.pages)+len(added))
	for _, pg := range s.pages {
		if cur, ok := now[pg]; ok {
			pg = cur
		}
		if pg != nil {
			pages = append(pages, pg)
		}
	}
	pages = append(pages, added...)
	return pages, func(u string) *Page {
		pg := s.byURL[u]
		if cur, ok := now[pg]; ok && pg != nil {
			return cur
		}
		return pg
	}
}

// closestID is the id a broken fragment most likely meant: the same
// letters in another case, then one a typo away, then an id holding it
// or held by it (a heading that grew or lost a word), then the nearest.
func closestID(frag string, ids []string) string {
	for _, id := range ids {
		if strings.EqualFold(id, frag) {
			return id
		}
	}
	if id := diag.Closest(frag, ids, 3); id != "" {
		return id
	}
	f := strings.ToLower(frag)
	var related []string
	for _, id := range ids {
		if strings.Contains(id, f) || strings.Contains(f, id) {
			related = append(related, id)
		}
	}
	if len(related) > 0 {
		ids = related
	}
	return diag.Closest(frag, ids, len(frag)+64)
}
