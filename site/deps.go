package site

import (
	"reflect"
	"slices"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/plan"
)

// deps is the record of one output page: what rendering it reads beside
// the theme and the configuration. A page's key in the build cache is the
// hash of its record (pageKey), and an update of a served site renders
// again exactly the pages whose record is not the one they were last
// rendered with (changedFrom): a page that was edited, that lists other
// pages than before, or whose site values moved.
//
// The record is filled where the page is made: its own values are the
// page itself (its plan's source, its body's key, and Page.Own, which
// holds what it shows of its checks, drill reports, alert rules and
// analysed migrations), and what it shows of other pages is named by the
// make function of its row of pageTypes as it hands those pages to the
// page. The theme and the configuration are every page's inputs.
type deps struct {
	page *Page
	// source is what a page of the content folder was read and rendered
	// from; nil for a generated page. Every record of the page shares it.
	*source
	// lists are the pages it shows beside its own values (cards, rows, a
	// folder's children, alert runbooks), in order: their own keys are in
	// its key.
	lists []*Page
	// tax is the taxonomy a list belongs to: its names are shown, and its
	// terms on the taxonomy's index (whose template reads them whole).
	tax *Taxonomy
	// alerts are the alerting rules it shows.
	alerts *alertrule.Index
	// site are the values of the site its templates read (memoRuleOf), as
	// name, value pairs; stale is the count of stale plans, -1 when its
	// templates do not show it.
	site  []string
	stale int
	// whole: its templates read the site in a way a record cannot name
	// (every plan, the terms of every taxonomy): it is never taken from
	// the build cache, and an update renders it every time.
	whole bool
	// memoKey is the page's key in the build cache, made in the build or
	// update memoGen numbers: a list takes it as its card's.
	memoKey buildcache.Key
	memoGen uint64
	// made is the make that made the record: an update drops the pages
	// its make no longer makes.
	made uint64
	// written: the page was written with this record, hit: its HTML came
	// from the build cache.
	written, hit bool
}

// source is what a build read a content page from and made of its body.
type source struct {
	// hash is the source file's hash when a full build read it (0
	// otherwise): with its path, it is all the page's plan depends on.
	hash uint64
	// contentKey names Content by what it is made from (the body's cache
	// key and the link rewrites) when the build has a cache.
	contentKey buildcache.Key
	// lazy, when set, fills Content from the build cache: a cached build
	// needs a page's HTML only for the pages it renders again.
	lazy *lazyContent
	// linksTo are the site paths the page's Markdown links to, for
	// telling whether deleting a page breaks another.
	linksTo []string
}

// contentPage is a page made from a file of the content folder, with the
// hash of the file (0 when it was not read by a full build).
func contentPage(typ PageType, u string, p *plan.Plan, hash uint64) *Page {
	pg := &Page{Type: typ, URL: u, Title: p.Title, Plan: p}
	pg.rec = &deps{page: pg, source: &source{hash: hash}, stale: -1}
	return pg
}

// linksTo are the site paths pg's Markdown links to.
func (pg *Page) linksTo() []string {
	if pg.rec == nil || pg.rec.source == nil {
		return nil
	}
	return pg.rec.linksTo
}

// contentKey names pg's Content by what it is made from, when the build
// has a cache (zero otherwise).
func (pg *Page) contentKey() buildcache.Key {
	if pg.rec == nil || pg.rec.source == nil {
		return buildcache.Key{}
	}
	return pg.rec.contentKey
}

// maker makes the output pages of a build or an update from the site as
// it is, each with a new record.
type maker struct {
	b   *Builder
	s   *loaded
	sv  *siteView
	gen uint64
	// siteOf caches the site values each type's templates read.
	siteOf map[PageType][]string
}

// outputs makes every output page of the site, by row of pageTypes.
func (b *Builder) outputs(s *loaded, sv *siteView) [][]*Page {
	m := &maker{b: b, s: s, sv: sv, gen: b.memoGen, siteOf: map[PageType][]string{}}
	out := make([][]*Page, len(pageTypes))
	for i, k := range pageTypes {
		out[i] = k.make(m, k)
	}
	return out
}

// record gives pg a new record, with what its type's templates read of
// the site; the make function adds what it shows of other pages.
func (m *maker) record(pg *Page) *deps {
	d := pg.rec
	if d == nil || d.made != 0 {
		// A record made before stays as it was: an update compares the
		// page's new record with it.
		d = &deps{page: pg}
		if pg.rec != nil {
			d.source = pg.rec.source
		}
	}
	d.made = m.gen
	d.whole, d.site, d.stale = m.siteReads(pg.Type)
	pg.rec = d
	return d
}

// recordOwn is record for a page that shows no other page: a record made
// before that reads the same values of the site is its record again (an
// unchanged plan of ten thousand is not recorded anew on each save).
func (m *maker) recordOwn(pg *Page) *deps {
	if d := pg.rec; d != nil && d.made != 0 {
		whole, site, stale := m.siteReads(pg.Type)
		if d.whole == whole && d.stale == stale && slices.Equal(d.site, site) {
			d.made, d.written, d.hit = m.gen, false, false
			return d
		}
	}
	return m.record(pg)
}

// siteReads is what pages of type typ read of the site (memoRuleOf): the
// whole of it, or the values of memoSite and the stale count (-1: not
// read).
func (m *maker) siteReads(typ PageType) (whole bool, site []string, stale int) {
	r := m.b.theme.memo[typ]
	site, ok := m.siteOf[typ]
	if !ok {
		for _, f := range r.site {
			site = append(site, f, memoSite[f](m.sv))
		}
		m.siteOf[typ] = site
	}
	stale = -1
	if r.staleCount {
		stale = len(m.sv.Stale)
	}
	return !r.ok, site, stale
}

// changedFrom reports whether the page d records renders otherwise than
// when old was its record.
func (d *deps) changedFrom(old *deps) bool {
	if d.whole || old.whole || d.page.Type != old.page.Type || d.tax != old.tax || d.alerts != old.alerts || d.stale != old.stale ||
		!slices.Equal(d.site, old.site) || !slices.Equal(d.lists, old.lists) {
		return true
	}
	if d.source != nil || old.source != nil {
		// An edited content page is a new Page.
		return d.page != old.page
	}
	// A generated page is made anew each time: its own values tell.
	return d.page.Title != old.page.Title || !reflect.DeepEqual(d.page.Own, old.page.Own)
}
