package site

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/content"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/export"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/search"
	"github.com/rollbook/rollbook/internal/sitewrite"
)

// state is what an in-memory build keeps so that the next change can be
// applied to it instead of building everything again.
type state struct {
	s      *loaded
	search *search.Live
	docOf  map[string]int // page URL -> search document
}

// outputRecords indexes the records of the pages outputs made by URL.
func outputRecords(rows [][]*Page) map[string]*deps {
	n := 0
	for _, pages := range rows {
		n += len(pages)
	}
	m := make(map[string]*deps, n)
	for _, pages := range rows {
		for _, pg := range pages {
			m[pg.URL] = pg.rec
		}
	}
	return m
}

// Update brings an in-memory build (Options.Memory) up to date after the
// given files changed. When every change is an edit of an existing page
// that keeps its URL, aliases, draft state, staleness and game-day block,
// the edit is applied to the kept site, and the output pages whose record
// (deps) changed are rendered again: the page itself and the pages that
// list it (only the page of a long list that holds it), its exports and
// the search files holding its terms. A lone new page, or a lone deleted
// page no other page links to, is added or removed the same way, and a
// rename is both at once. A new or changed asset is written as it is; a
// changed migration file checks and renders again the plans that ship
// it. Anything else (a deleted asset, a folder, a theme, config or drill
// report change) builds the whole site.
//
// A failed update leaves the last good site served; the files stay
// pending and are applied with the next change.
func (b *Builder) Update(ctx context.Context, changed []string) (*Result, error) {
	if !b.opts.Memory || b.last == nil || len(changed) == 0 {
		return b.Build(ctx)
	}
	if b.pending == nil {
		b.pending = map[string]bool{}
	}
	for _, f := range changed {
		b.pending[filepath.Clean(f)] = true
	}
	start := time.Now()
	files := slices.Sorted(maps.Keys(b.pending))
	res, handled, err := b.update(ctx, files)
	if !handled {
		b.log.Debug("change needs a full build", "files", len(files))
		return b.Build(ctx)
	}
	if err != nil {
		return nil, err
	}
	b.pending = nil
	res.Duration = time.Since(start)
	b.log.Info("updated site", "pages", res.Pages, "changed", len(files), "took", res.Duration.Round(time.Microsecond))
	return res, nil
}

// edit is one changed page: the page as last built and its new version;
// old is nil for a new page, cur for a deleted one.
type edit struct {
	old, cur *Page
	name     string // display name, "content/payments/x.md"
	findings diag.List
}

// page is the edited page as it is now, or as it was if it was deleted.
func (e *edit) page() *Page {
	if e.cur == nil {
		return e.old
	}
	return e.cur
}

// update applies files to the kept site in three phases: readEdits says
// what each file means for the kept model (a page edit, a new or deleted
// page, a theme file or an asset to write as it is, or something only a
// full build can apply: handled false); stage puts the edits into the
// site's link indexes and renders them, undoing that when the site would
// not build; emit applies them to the kept site and writes the output
// pages whose records changed.
func (b *Builder) update(ctx context.Context, files []string) (res *Result, handled bool, err error) {
	b.memoGen++
	cs, handled, err := b.readEdits(files)
	if !handled || err != nil {
		return nil, handled, err
	}
	all, err := b.stage(b.last.s, cs.edits)
	if err != nil {
		return nil, true, err
	}
	res, err = b.emit(ctx, cs, all)
	return res, true, err
}

// changeSet is what changed files mean for the kept site.
type changeSet struct {
	edits  []*edit
	static map[string][]byte // theme static files by site path
	assets map[string][]byte // content assets by path in content/
}

// readEdits reads the changed files and turns them into edits of the
// kept model (ChangeKind, by contrast, only says whether the theme or
// the configuration must be read again); handled is false when one needs
// a full build, err reports files that do not parse.
func (b *Builder) readEdits(files []string) (cs *changeSet, handled bool, err error) {
	s := b.last.s
	contentDir := b.cfg.Path(b.cfg.ContentDir)
	display := b.displayDir()
	now := b.now()
	var edits []*edit
	var broken diag.List
	static := map[string][]byte{}
	assetData := map[string][]byte{} // content assets by path in content/
	// A migration's SQL is read by the plans that ship it: they are checked
	// and rendered again.
	files = withMigrationPlans(s, contentDir, files)
	if b.alertsTouched(s, files) {
		return nil, false, nil // the join of alerts to pages spans the site
	}
	// A new or deleted page comes alone, or the two together: a rename.
	lone := len(files) == 1 || renamed(s, contentDir, files)
	for _, f := range files {
		if b.theme.dir != "" {
			// A theme's stylesheet or script: written as it is.
			if rel, err := filepath.Rel(filepath.Join(b.theme.dir, "static"), f); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
				data, err := os.ReadFile(f)
				if err != nil {
					return nil, false, nil
				}
				static[filepath.ToSlash(rel)] = data
				continue
			}
		}
		rel, err := filepath.Rel(contentDir, f)
		if err != nil || rel == "." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == ".." {
			return nil, false, nil // config, theme, drill reports
		}
		rel = filepath.ToSlash(rel)
		if !strings.EqualFold(path.Ext(rel), ".md") {
			// An asset, written as it is; one that went (links may
			// break), a folder or a symlink builds the whole site.
			info, err := os.Lstat(f)
			if err != nil || !info.Mode().IsRegular() || slices.ContainsFunc(strings.Split(rel, "/"), content.Skipped) {
				return nil, false, nil
			}
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, false, nil
			}
			assetData[rel] = data
			continue
		}
		old := s.byPath[rel]
		if old == nil && !lone {
			return nil, false, nil // new pages, or ones that did not build
		}
		info, err := os.Lstat(f) // a symlink is not followed: it builds the whole site
		if errors.Is(err, fs.ErrNotExist) && old != nil && lone && removable(s, old) {
			edits = append(edits, &edit{old: old, name: path.Join(display, rel)})
			continue
		}
		if err != nil || !info.Mode().IsRegular() || info.Size() > plan.MaxFileSize {
			return nil, false, nil // deleted, replaced by a folder, or too large
		}
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		} else if err != nil {
			return nil, true, err
		}
		name := path.Join(display, rel)
		p, ds := plan.Parse(name, rel, data)
		ds = b.cfg.Severities().Apply(ds)
		if p == nil || len(ds.Errors()) > 0 {
			// Report every broken file's errors; the rest of the site
			// built before.
			broken = append(broken, ds...)
			continue
		}
		if old == nil {
			// A new page, alone: applied in place when it changes no
			// other page's URL, alias, drills or the stale count.
			e, ok := b.newPage(s, p, rel, name, ds, now)
			if !ok {
				return nil, false, nil
			}
			edits = append(edits, e)
			continue
		}
		if !content.Shown(p, b.opts.Drafts) || p.Section != old.Plan.Section || p.IsPlan() != old.Plan.IsPlan() ||
			!slices.Equal(p.Aliases, old.Plan.Aliases) || p.Gameday.Schedule.Spec != old.Plan.Gameday.Schedule.Spec ||
			!slices.Equal(p.Gameday.Scenarios, old.Plan.Gameday.Scenarios) {
			return nil, false, nil
		}
		if u, err := pageURL(p); err != nil || u != old.URL {
			return nil, false, nil
		}
		cur := contentPage(old.Type, old.URL, p, 0)
		cur.Drill, cur.Scenarios, cur.DrillHistory, cur.HistoryChart = old.Drill, old.Scenarios, old.DrillHistory, old.HistoryChart
		e := &edit{old: old, cur: cur, name: name, findings: ds}
		if cur.Type == "plan" {
			e.findings = append(e.findings, b.checkPage(cur, name, now)...)
			if cur.Stale != old.Stale {
				return nil, false, nil // every page's navigation counts stale plans
			}
		}
		edits = append(edits, e)
	}
	if len(broken) > 0 {
		broken.Sort()
		return nil, true, &FindingsError{Findings: broken}
	}
	return &changeSet{edits: edits, static: static, assets: assetData}, true, nil
}

// displayDir is the content folder as findings name it, "content".
func (b *Builder) displayDir() string {
	return strings.TrimSuffix(filepath.ToSlash(b.cfg.ContentDir), "/")
}

// stage puts new pages into the site's link indexes and takes deleted
// ones out (links resolve against the site as it will be: no other URL
// changes), renders the edited pages and returns the site's findings.
// When those fail the build, the indexes are put back as they were:
// this is the only change made to the kept site before emit.
func (b *Builder) stage(s *loaded, edits []*edit) (all diag.List, err error) {
	var undo []func()
	defer func() {
		if err != nil {
			for _, u := range slices.Backward(undo) {
				u()
			}
		}
	}()
	for _, e := range edits {
		if e.cur == nil {
			delete(s.byURL, e.old.URL)
			delete(s.byPath, e.old.Plan.Path)
			undo = append(undo, func() { s.byURL[e.old.URL], s.byPath[e.old.Plan.Path] = e.old, e.old })
		}
	}
	for _, e := range edits {
		if e.old == nil {
			s.byURL[e.cur.URL], s.byPath[e.cur.Plan.Path] = e.cur, e.cur
			undo = append(undo, func() {
				delete(s.byURL, e.cur.URL)
				delete(s.byPath, e.cur.Plan.Path)
			})
		}
	}
	display := b.displayDir()
	assets := s.assetSet()
	for _, e := range edits {
		if e.cur != nil {
			e.findings = append(e.findings, b.renderPage(s, assets, display, e.cur, true)...)
		}
	}
	// The site's findings: every other file's as they were, and the edits'.
	touched := map[string]bool{}
	for _, e := range edits {
		touched[e.name] = true
		// A plan's check also reports at its migrations' SQL lines.
		for _, pg := range []*Page{e.old, e.cur} {
			for _, m := range pageMigrations(pg) {
				if m.Link != "" {
					touched[path.Join(display, strings.TrimPrefix(m.Link, "/"))] = true
				}
			}
		}
	}
	// Sized once: a large site keeps thousands of findings, and growing
	// the list while copying them was most of a save's staging.
	all = make(diag.List, 0, len(s.findings)+len(edits))
	for _, f := range s.findings {
		// A fragment may break, or mend, in any page linking to an edit.
		if !touched[f.File] && f.Rule != "broken-anchor" {
			all = append(all, f)
		}
	}
	for _, e := range edits {
		all = append(all, e.findings...)
	}
	pages, page := editedPages(s, edits)
	all = append(all, b.checkAnchors(s, pages, page)...)
	all = b.cfg.Severities().Apply(all)
	all.Sort()
	all = slices.Compact(all) // plans that share a migration report its SQL alike
	return all, failOn(all, b.opts.Strict)
}

// emit applies a staged change to the kept site and writes what it
// touches: the edited pages' exports and search files, and the output
// pages whose records changed (the edited pages, the lists that show
// them), and the sitemap.
// The update succeeds from here on; should writing still fail, the kept
// site is half changed: it is dropped, so the next change builds
// everything.
func (b *Builder) emit(ctx context.Context, cs *changeSet, all diag.List) (res *Result, err error) {
	st := b.last
	s := st.s
	edits, static, assetData := cs.edits, cs.static, cs.assets
	contentDir := b.cfg.Path(b.cfg.ContentDir)
	w := sitewrite.NewInline(sitewrite.Options{Minify: b.cfg.MinifyOutput()})
	defer w.Abort()
	defer func() {
		if err != nil {
			b.last = nil
		}
	}()
	var gone []string
	for _, e := range edits {
		switch {
		case e.old == nil:
			b.insert(s, e.cur)
		case e.cur == nil:
			remove(s, e.old)
		default:
			b.swap(s, e.old, e.cur)
		}
		base := "_export/" + plan.Slug(e.page().Plan.Path)
		for _, t := range export.Targets {
			gone = append(gone, base+t.Suffix())
		}
		if e.cur != nil && e.cur.Type == "plan" {
			if err := b.exportPage(e.cur, w); err != nil {
				return nil, err
			}
		}
	}
	s.findings = all
	sv := b.view(s)
	for _, e := range edits {
		if e.old == nil || e.cur == nil {
			if e.cur == nil {
				sv.forget(e.old)
			}
			sv.Plans = s.plans
			sortPages(sv.Plans)
			for _, tax := range sv.Taxonomies {
				if e.cur != nil {
					addToTerms(tax, e.cur)
				} else {
					removeFromTerms(tax, e.old)
				}
			}
			continue
		}
		updateView(sv, s.plans, e.old, e.cur)
	}
	// Every output page is made again with a new record, before the
	// search index reads the edited pages: those whose record changed
	// are written, those no longer made are gone.
	var todo, sitemapped []*Page
	if len(edits) > 0 {
		rows := b.outputs(s, sv)
		for i, pages := range rows {
			for _, pg := range pages {
				if old := b.pages[pg.URL]; old != pg.rec {
					if old == nil || pg.rec.changedFrom(old) {
						todo = append(todo, pg)
					}
					b.pages[pg.URL] = pg.rec
				}
				if pageTypes[i].sitemap {
					sitemapped = append(sitemapped, pg)
				}
			}
		}
		for u, d := range b.pages {
			if d.made != b.memoGen {
				gone = append(gone, outputFile(u))
				delete(b.pages, u)
			}
		}
	}
	// The search index is updated beside the pages.
	type searchOut struct {
		files map[string][]byte
		err   error
	}
	searchDone := make(chan searchOut, 1)
	go func() {
		out := map[string][]byte{}
		for _, e := range edits {
			if !indexed(e.page()) {
				continue
			}
			var changed map[string][]byte
			var err error
			if e.cur == nil {
				changed, err = st.search.Remove(st.docOf[e.old.URL])
				delete(st.docOf, e.old.URL)
			} else if d, derr := searchDoc(e.cur); derr != nil {
				err = derr
			} else if i, ok := st.docOf[e.cur.URL]; ok {
				changed, err = st.search.Replace(i, d)
			} else {
				// A new page is the index's last document.
				var i int
				i, changed, err = st.search.Append(d)
				st.docOf[e.cur.URL] = i
			}
			if err != nil {
				searchDone <- searchOut{err: err}
				return
			}
			maps.Copy(out, changed)
		}
		searchDone <- searchOut{files: out}
	}()
	defer func() {
		// Never return while the index is still being changed.
		if searchDone != nil {
			<-searchDone
		}
	}()
	for name, data := range static {
		b.theme.static[name] = data
		if err := w.Write(name, data); err != nil {
			return nil, err
		}
	}
	for rel, data := range assetData {
		// s.assets is sorted by path, as scan leaves it.
		if at, found := slices.BinarySearchFunc(s.assets, rel, func(a content.Source, rel string) int { return strings.Compare(a.Rel, rel) }); !found {
			s.assets = slices.Insert(s.assets, at, content.Source{Rel: rel, Abs: filepath.Join(contentDir, filepath.FromSlash(rel)), Size: int64(len(data))})
		}
		if err := w.Write(rel, data); err != nil {
			return nil, err
		}
	}
	if len(edits) == 0 {
		<-searchDone
		searchDone = nil
		return b.publishUpdate(w, nil)
	}
	if err := parallel(ctx, len(todo), func(i int) error { return b.writePage(w, sv, todo[i]) }); err != nil {
		return nil, err
	}
	urls := make([]string, len(sitemapped))
	for i, pg := range sitemapped {
		urls[i] = pg.URL
	}
	if err := w.Write("sitemap.xml", sitemap(b.cfg.AbsURL, urls)); err != nil {
		return nil, err
	}
	idx := <-searchDone
	searchDone = nil
	if idx.err != nil {
		return nil, idx.err
	}
	for name, data := range idx.files {
		if data == nil {
			gone = append(gone, "_search/"+name)
			continue
		}
		if err := w.Write("_search/"+name, data); err != nil {
			return nil, err
		}
	}
	return b.publishUpdate(w, gone)
}

// publishUpdate makes the served site the last one with the update's
// files written and the gone ones removed.
func (b *Builder) publishUpdate(w *sitewrite.Writer, gone []string) (*Result, error) {
	if err := w.Commit(); err != nil {
		return nil, err
	}
	next := maps.Clone(b.Files())
	for _, g := range gone {
		delete(next, g)
	}
	maps.Copy(next, w.Files())
	b.files.Store(&next)
	s := b.last.s
	s.findings.Sort()
	return &Result{Pages: len(s.pages), Findings: s.findings}, nil
}

// newPage makes the edit that adds a page from a new file, or reports
// that the file needs a full build: a draft, a section, an alias, a URL
// that is taken, a game-day block or drill reports, or a stale plan (the
// navigation of every page counts those).
func (b *Builder) newPage(s *loaded, p *plan.Plan, rel, name string, ds diag.List, now time.Time) (*edit, bool) {
	if !content.Shown(p, b.opts.Drafts) || p.Section || len(p.Aliases) > 0 || len(p.Gameday.Scenarios) > 0 || p.Gameday.Schedule.Spec != "" {
		return nil, false
	}
	u, err := pageURL(p)
	if err != nil || s.byURL[u] != nil || s.aliases[u] != "" || reservedURL(u) || u == "/" {
		return nil, false
	}
	for _, r := range b.readDrills(b.cfg.Path(b.cfg.DrillsDir)) {
		if b.reportPlan(r) == rel {
			return nil, false
		}
	}
	typ := typePage
	if p.IsPlan() {
		typ = typePlan
	}
	cur := contentPage(typ, u, p, 0)
	e := &edit{cur: cur, name: name, findings: ds}
	if p.IsPlan() {
		e.findings = append(e.findings, b.checkPage(cur, name, now)...)
		if cur.Stale {
			return nil, false
		}
	}
	return e, true
}

// insert adds a new page to the kept site: its page lists and its plans
// (the outputs that list it are made again from them).
func (b *Builder) insert(s *loaded, cur *Page) {
	at := sort.Search(len(s.pages), func(i int) bool { return s.pages[i].URL >= cur.URL })
	s.pages = slices.Insert(s.pages, at, cur)
	if cur.Type == "plan" {
		s.plans = append(s.plans, cur)
	}
	s.byURL[cur.URL], s.byPath[cur.Plan.Path] = cur, cur
}

func pageMigrations(pg *Page) []MigrationView {
	if pg == nil {
		return nil
	}
	return pg.Migrations
}

// withMigrationPlans adds to files the plans that ship a changed
// migration file (their migrations link to it).
func withMigrationPlans(s *loaded, contentDir string, files []string) []string {
	out := slices.Clone(files)
	for _, f := range files {
		rel, err := filepath.Rel(contentDir, f)
		if err != nil || strings.EqualFold(filepath.Ext(rel), ".md") {
			continue
		}
		link := "/" + filepath.ToSlash(rel)
		for _, pg := range s.plans {
			for _, m := range pg.Migrations {
				if m.Link == link {
					if p := filepath.Join(contentDir, filepath.FromSlash(pg.Plan.Path)); !slices.Contains(out, p) {
						out = append(out, p)
					}
				}
			}
		}
	}
	if len(out) > len(files) {
		slices.Sort(out)
	}
	return out
}

// renamed reports whether two changed files are a rename of a page: one
// built page whose file is gone and one new Markdown file.
func renamed(s *loaded, contentDir string, files []string) bool {
	if len(files) != 2 {
		return false
	}
	gone, added := 0, 0
	for _, f := range files {
		rel, err := filepath.Rel(contentDir, f)
		if err != nil || !strings.EqualFold(filepath.Ext(rel), ".md") {
			return false
		}
		_, err = os.Stat(f)
		switch known := s.byPath[filepath.ToSlash(rel)] != nil; {
		case known && errors.Is(err, fs.ErrNotExist):
			gone++
		case !known && err == nil:
			added++
		}
	}
	return gone == 1 && added == 1
}

// removable reports whether a deleted page can be taken out of the kept
// site on its own: a plan or plain page that no other page links to, with
// no aliases, drills or game-day block, and not stale (every page's
// navigation counts those).
func removable(s *loaded, old *Page) bool {
	if old.Type != "plan" && old.Type != "page" || len(old.Plan.Aliases) > 0 || old.Stale ||
		old.Drill != nil || len(old.DrillHistory) > 0 || len(old.Plan.Gameday.Scenarios) > 0 || old.Plan.Gameday.Schedule.Spec != "" {
		return false
	}
	for _, pg := range s.pages {
		if pg != old && slices.Contains(pg.linksTo(), old.URL) {
			return false // the full build reports the link it breaks
		}
	}
	return true
}

// remove takes a deleted page out of the kept site.
func remove(s *loaded, old *Page) {
	isOld := func(pg *Page) bool { return pg == old }
	s.pages = slices.DeleteFunc(s.pages, isOld)
	s.plans = slices.DeleteFunc(s.plans, isOld)
	delete(s.byURL, old.URL)
	delete(s.byPath, old.Plan.Path)
}

// swap puts cur in the place of old everywhere the kept site points to it.
func (b *Builder) swap(s *loaded, old, cur *Page) {
	for i, pg := range s.pages {
		if pg == old {
			s.pages[i] = cur
		}
	}
	for i, pg := range s.plans {
		if pg == old {
			s.plans[i] = cur
		}
	}
	s.byPath[cur.Plan.Path] = cur
	s.byURL[cur.URL] = cur
}
