package site

import (
	"path"
	"slices"
	"strings"

	"github.com/rollbook/rollbook/internal/plan"
)

// PageType is a kind of output page; it names the theme template that
// renders it (templates/TYPE.html, with base.html and the partials).
type PageType string

const (
	typePlan     PageType = "plan"
	typePage     PageType = "page"
	typeSection  PageType = "section"
	typeHome     PageType = "home"
	typeTerms    PageType = "terms"
	typeTerm     PageType = "term"
	typeStale    PageType = "stale"
	typeDrills   PageType = "drills"
	typeNotFound PageType = "404"
	typeAlerts   PageType = "alerts"
)

// pageKind is one row of the page-type table: a new kind of page is one
// row here, its template and its make function. The full build, the
// update of a served site, the sitemap, the theme's templates and the
// URLs no content page may take all read the table.
type pageKind struct {
	typ PageType
	// url is the URL of a type with one page per site ("/stale/"); its
	// first folder is reserved, unless yields: then a content page at
	// that URL is shown instead (sites that wrote their own /alerts/).
	url    string
	title  string
	yields bool
	// under are the first folders its pages are made under, which no
	// content page may take (the taxonomies' keys).
	under func() []string
	// sitemap: the pages are places to go to, not an error page.
	sitemap bool
	// make returns the type's pages of the site as m holds it, each with
	// its record (maker.record) naming what else it shows.
	make func(m *maker, k *pageKind) []*Page
}

// pageTypes is in the order pages are written: a list's key holds the
// keys of the pages it lists, made by a row above it.
var pageTypes = []*pageKind{
	{typ: typePlan, sitemap: true, make: contentPages},
	{typ: typePage, sitemap: true, make: contentPages},
	{typ: typeSection, sitemap: true, make: sectionPages},
	{typ: typeHome, url: "/", yields: true, sitemap: true, make: homePages},
	{typ: typeTerms, under: taxonomyKeys, sitemap: true, make: termsPages},
	{typ: typeTerm, under: taxonomyKeys, sitemap: true, make: termPages},
	{typ: typeStale, url: "/stale/", title: "Stale plans", sitemap: true,
		make: fixedPage(func(m *maker) []*Page { return slices.Clone(m.sv.Stale) })},
	{typ: typeDrills, url: "/drills/", title: "Drills", sitemap: true,
		make: fixedPage(func(m *maker) []*Page { return drilled(m.sv.Plans) })},
	{typ: typeNotFound, url: "/404.html", title: "Page not found", make: fixedPage(nil)},
	{typ: typeAlerts, url: alertsListURL, title: "Alerts", yields: true, sitemap: true, make: alertsPages},
}

// otherOutputs are the first folders and the files the site writes
// beside its pages: live reload, search, exports, the sitemap.
var otherOutputs = []string{"_rollbook", "_search", "_export", "sitemap.xml"}

// reservedFolders are the first path segments no content page may have.
var reservedFolders = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range otherOutputs {
		m[s] = true
	}
	for _, k := range pageTypes {
		if k.under != nil {
			for _, s := range k.under() {
				m[s] = true
			}
		}
		if k.url != "" && !k.yields {
			m[firstSegment(k.url)] = true
		}
	}
	return m
}()

func firstSegment(u string) string { return strings.Split(strings.Trim(u, "/"), "/")[0] }

// reservedURL reports whether site path u is a generated page's, or
// under one's folder.
func reservedURL(u string) bool { return reservedFolders[firstSegment(u)] }

func taxonomyKeys() []string {
	var keys []string
	for _, t := range taxonomies() {
		keys = append(keys, t.Key)
	}
	return keys
}

// contentPages are the pages of the content folder of the row's type,
// which show no other page.
func contentPages(m *maker, k *pageKind) []*Page {
	var out []*Page
	for _, pg := range m.s.pages {
		if pg.Type == k.typ {
			m.recordOwn(pg)
			out = append(out, pg)
		}
	}
	return out
}

// sectionPages are the folders' pages, each listing what is under it.
func sectionPages(m *maker, _ *pageKind) []*Page {
	byDir := map[string][]*Page{}
	var out []*Page
	for _, pg := range m.s.pages {
		if pg.Type == typeSection {
			dir := path.Dir(pg.Plan.Path)
			byDir[dir] = append(byDir[dir], pg)
			out = append(out, pg)
		}
	}
	if len(out) == 0 {
		return nil
	}
	children := map[*Page][]*Page{}
	for _, c := range m.s.pages {
		for _, sec := range byDir[parentFolder(c)] {
			if sec != c {
				children[sec] = append(children[sec], c)
			}
		}
	}
	for _, sec := range out {
		kids := children[sec]
		sortPages(kids)
		sec.Children = kids
		m.record(sec).lists = kids
	}
	return out
}

// homePages is the site's home: content/_index.md if there is one, else
// a page of the site's title, listing the most recently reviewed plans
// (the full lists are one click away, by kind, service, …: a home page
// of ten thousand cards helps nobody during an incident).
func homePages(m *maker, k *pageKind) []*Page {
	home := m.s.byURL[k.url]
	if home == nil {
		home = &Page{Type: typeHome, URL: k.url, Title: m.b.cfg.Title, Plan: &plan.Plan{Path: "_index.md", Section: true}}
	}
	home.Type = typeHome
	home.Pages = recent(m.sv.Plans, homePlans)
	m.record(home).lists = home.Pages
	return []*Page{home}
}

// termsPages are each taxonomy's index of its terms.
func termsPages(m *maker, _ *pageKind) []*Page {
	var out []*Page
	for _, tax := range m.sv.Taxonomies {
		pg := &Page{Type: typeTerms, URL: "/" + tax.Key + "/", Title: tax.Title, Taxonomy: tax, Terms: tax.Terms}
		m.record(pg).tax = tax
		out = append(out, pg)
	}
	return out
}

// termPages are each term's list of plans, split into pages of
// listPageSize.
func termPages(m *maker, _ *pageKind) []*Page {
	var out []*Page
	for _, tax := range m.sv.Taxonomies {
		for _, t := range tax.Terms {
			for _, pg := range paginate(tax, t, t.Pages) {
				d := m.record(pg)
				d.lists, d.tax = pg.Pages, tax
				out = append(out, pg)
			}
		}
	}
	return out
}

// fixedPage makes the one page of a row with a URL, listing what list
// returns (nil: nothing).
func fixedPage(list func(m *maker) []*Page) func(m *maker, k *pageKind) []*Page {
	return func(m *maker, k *pageKind) []*Page {
		pg := &Page{Type: k.typ, URL: k.url, Title: k.title}
		d := m.record(pg)
		if list != nil {
			pg.Pages = list(m)
			d.lists = pg.Pages
		}
		return []*Page{pg}
	}
}

// alertsPages is the Alerts page, on a site with alert_rules whose
// content has no page at its URL (in any case: the folder would clash on
// the file systems that ignore it).
func alertsPages(m *maker, k *pageKind) []*Page {
	if m.s.alerts == nil {
		return nil
	}
	for u := range m.s.byURL {
		if strings.EqualFold(u, k.url) {
			return nil
		}
	}
	pg := &Page{Type: k.typ, URL: k.url, Title: k.title, AlertList: m.b.alertList(m.s.alerts, m.s.pages)}
	d := m.record(pg)
	d.alerts = m.s.alerts
	for _, o := range pg.AlertList.Orphans {
		d.lists = append(d.lists, o.Page)
	}
	return []*Page{pg}
}
