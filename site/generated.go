package site

import "github.com/rollbook/rollbook/internal/plan"

// fixedPage is a page the site makes at one URL whatever the content
// holds. The list below is read by the full build (writeGenerated), the
// update of a served site (emit) and the sitemap, so a new one is one
// line.
type fixedPage struct {
	url, title, typ string
	// pages is what the page lists, nil for none.
	pages func(sv *siteView) []*Page
	// shows reports whether an edited page appears on it: an update then
	// writes it again.
	shows func(e *edit) bool
	// inSitemap: the page is a place to go to, not an error page.
	inSitemap bool
}

var fixedPages = []fixedPage{
	{url: "/stale/", title: "Stale plans", typ: "stale", inSitemap: true,
		pages: func(sv *siteView) []*Page { return sv.Stale },
		shows: func(e *edit) bool { return e.cur != nil && e.cur.Stale }},
	{url: "/drills/", title: "Drills", typ: "drills", inSitemap: true,
		pages: func(sv *siteView) []*Page { return drilled(sv.Plans) },
		shows: func(e *edit) bool {
			return e.cur != nil && (len(e.cur.Plan.Gameday.Scenarios) > 0 || e.cur.Drill != nil)
		}},
	{url: "/404.html", title: "Page not found", typ: "404",
		shows: func(*edit) bool { return false }},
}

// page makes the page for the site as sv shows it.
func (f fixedPage) page(sv *siteView) *Page {
	pg := &Page{Type: f.typ, URL: f.url, Title: f.title}
	if f.pages != nil {
		pg.Pages = f.pages(sv)
	}
	return pg
}

// homePage is the site's home: content/_index.md if there is one, else a
// page of the site's title, listing the most recently reviewed plans
// (the full lists are one click away, by kind, service, …: a home page of
// ten thousand cards helps nobody during an incident).
func (b *Builder) homePage(s *loaded, sv *siteView) *Page {
	home := s.byURL["/"]
	if home == nil {
		home = &Page{Type: "home", URL: "/", Title: b.cfg.Title, Plan: &plan.Plan{Path: "_index.md", Section: true}}
	}
	home.Type = "home"
	home.Pages = recent(sv.Plans, homePlans)
	return home
}
