// Package site builds a rollbook site: it reads the plans under content/,
// checks them, renders each to HTML with the theme, adds the list pages,
// sitemap and search index, and swaps the result into public/ atomically.
package site

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/sync/errgroup"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/config"
	"github.com/rollbook/rollbook/internal/content"
	"github.com/rollbook/rollbook/internal/contentpath"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/markdown"
	"github.com/rollbook/rollbook/internal/migrate"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/search"
	"github.com/rollbook/rollbook/internal/sitewrite"
)

// Options configures a build.
type Options struct {
	// Root is the project folder holding rollbook.yaml and content/.
	Root string
	// Drafts includes pages with draft: true.
	Drafts bool
	// Strict makes warnings fail the build.
	Strict bool
	// Now is the build's clock for review ages; zero means time.Now.
	Now time.Time
	// OutDir overrides public_dir from rollbook.yaml.
	OutDir string
	// Force rebuilds even when no input changed since the last build.
	Force bool
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Dev adds the live-reload script that rollbook serve answers.
	Dev bool
	// Bundle builds the offline copy rollbook bundle writes (see Bundle).
	Bundle bool
	// Memory builds into memory instead of OutDir; Files returns the
	// last good build (the dev server serves from it).
	Memory bool
	// CacheDir is the persistent build cache folder (see
	// internal/buildcache): highlighted blocks, rendered bodies and
	// migration analyses of earlier builds are read from it, new ones
	// added. "" builds without it.
	CacheDir string

	// External, when set, checks http(s) links too (rollbook check
	// --external); never unless asked.
	External *External
	// Since, a git ref, makes check report the page URLs and aliases the
	// site had at it that reach nothing now (check --since).
	Since string

	// layoutOnly stops load once the pages' URLs and aliases are known:
	// check --since reads no more of the project at the ref.
	layoutOnly bool

	// noSearch leaves the search index out; the benchmark that measures
	// what the index adds to a build sets it.
	noSearch bool
}

// Result describes a finished build.
type Result struct {
	Pages    int
	Findings diag.List
	Out      string
	UpToDate bool // nothing changed since the last build, so nothing was written
	Duration time.Duration
}

// FindingsError is returned when a build stops on findings: errors, or
// warnings under Strict. The last good output is left as it was.
type FindingsError struct {
	Findings diag.List
	Strict   bool
}

func (e *FindingsError) Error() string {
	n := len(e.Findings.Errors())
	what := fmt.Sprintf("%d error(s)", n)
	if e.Strict && n == 0 {
		what = fmt.Sprintf("%d warning(s) in strict mode", len(e.Findings.Warnings()))
	}
	return "build failed with " + what + ":\n" + e.Findings.Error()
}

// Builder builds one site; reuse it (as the dev server does) to keep its
// caches warm between builds.
type Builder struct {
	cfg   *config.Config
	opts  Options
	log   *slog.Logger
	md    *markdown.Renderer
	theme *theme

	mu       sync.Mutex
	analyses map[string]analysis

	files atomic.Pointer[map[string][]byte]

	cfgOnce sync.Once
	cfgHash string
	// memoHits counts the pages a Build took whole from the build cache,
	// parsed the front matters its load decoded (the others came from a
	// cache).
	memoHits atomic.Int64
	parsed   int64
	// memoGen numbers builds and updates, for page keys (deps.memoKey).
	memoGen uint64

	// lastChanged is when git last changed each content file, read once
	// per full build.
	lastChanged map[string]time.Time

	// parses and cache keep parsed plans and rendered bodies between
	// in-memory builds.
	parses *content.Memo
	cache  *pageCache
	// store is the persistent build cache during a Build, else nil.
	store *store
	// read is the content inputKey read, by absolute path, until the
	// build parses it.
	read map[string][]byte
	// pages are the records of the output pages by URL, as the last Build
	// or Update wrote them.
	pages map[string]*deps
	// last is the last good in-memory build, which Update changes in
	// place; pending are the files changed since it.
	last    *state
	pending map[string]bool
	// alerts is the last build's alerting rules (alerts.go).
	alerts alertState
}

// Files returns the last good in-memory build (Options.Memory), by slash
// path inside the site.
func (b *Builder) Files() map[string][]byte {
	if m := b.files.Load(); m != nil {
		return *m
	}
	return nil
}

type analysis struct {
	res migrate.Result
	err error
	key string
}

// New loads the configuration and theme.
func New(opts Options) (*Builder, error) {
	if opts.Root == "" {
		opts.Root = "."
	}
	cfg, err := config.Load(opts.Root)
	if err != nil {
		return nil, err
	}
	if opts.OutDir != "" {
		cfg.PublicDir = opts.OutDir
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	th, err := loadTheme(cfg)
	if err != nil {
		return nil, err
	}
	b := &Builder{cfg: cfg, opts: opts, log: log, md: markdown.New(markdown.Options{HTML: cfg.HTMLMode()}), theme: th, analyses: map[string]analysis{}}
	if opts.Memory {
		// Only rollbook serve builds one site again and again.
		b.parses, b.cache = content.NewMemo(), newPageCache()
	}
	return b, nil
}

// Config returns the loaded configuration.
func (b *Builder) Config() *config.Config { return b.cfg }

// Build builds the site, writing it to public_dir only if there is no error.
func Build(ctx context.Context, opts Options) (*Result, error) {
	b, err := New(opts)
	if err != nil {
		return nil, err
	}
	return b.Build(ctx)
}

// Check runs every rule without writing output.
func Check(ctx context.Context, opts Options) (diag.List, error) {
	b, err := New(opts)
	if err != nil {
		return nil, err
	}
	s, err := b.load(ctx, nil)
	if err != nil {
		return nil, err
	}
	// Rendering finds broken links; it writes nothing.
	if err := b.renderPages(ctx, s, false); err != nil {
		return nil, err
	}
	s.add(b.checkAnchors(s, s.pages, s.page)...)
	if b.opts.External != nil {
		s.add(b.checkExternal(ctx, s)...)
	}
	if b.opts.Since != "" {
		ds, err := b.checkSince(ctx, s, b.opts.Since)
		if err != nil {
			return nil, err
		}
		s.add(ds...)
	}
	s.findings.Sort()
	return s.findings, nil
}

func (b *Builder) now() time.Time {
	if !b.opts.Now.IsZero() {
		return b.opts.Now
	}
	return time.Now()
}

// loaded is the site between reading and writing.
type loaded struct {
	pages    []*Page          // every Markdown page, sorted by URL
	byPath   map[string]*Page // by source path inside content/
	byURL    map[string]*Page
	plans    []*Page
	assets   []content.Source
	aliases  map[string]string // alias site path -> target page URL
	sv       *siteView
	findings diag.List
	mu       sync.Mutex
	// alerts are the alert_rules' alerts joined to the pages (nil without alert_rules).
	alerts *alertrule.Index
}

// page is the page at site path u, or nil.
func (s *loaded) page(u string) *Page { return s.byURL[u] }

func (s *loaded) assetSet() map[string]bool {
	m := make(map[string]bool, len(s.assets))
	for _, a := range s.assets {
		m[a.Rel] = true
	}
	return m
}

func (s *loaded) add(ds ...diag.Finding) {
	s.mu.Lock()
	s.findings = append(s.findings, ds...)
	s.mu.Unlock()
}

func (b *Builder) load(ctx context.Context, w *sitewrite.Writer) (*loaded, error) {
	contentDir := b.cfg.Path(b.cfg.ContentDir)
	l, err := content.Scan(ctx, contentDir)
	if err != nil {
		return nil, err
	}
	display := filepath.ToSlash(b.cfg.ContentDir)
	r := &content.Reader{Display: display, Memo: b.parses, Cache: b.store.cache(), Read: b.read}
	b.read = nil
	ps, err := r.ReadAll(ctx, l.Pages)
	if err != nil {
		return nil, err
	}
	b.parsed = r.Parsed()
	s := &loaded{byPath: map[string]*Page{}, byURL: map[string]*Page{}, assets: l.Assets, aliases: map[string]string{}}
	for _, oe := range l.Refused {
		s.findings = append(s.findings, diag.At(path.Join(display, oe.Rel), 1, 1).Error("content-symlink", oe.Error(), contentpath.Fix))
	}
	index := folderIndexes(ps, b.opts.Drafts)
	for _, p := range ps {
		s.findings = append(s.findings, p.Findings...)
		if !content.Shown(p.Plan, b.opts.Drafts) {
			continue
		}
		name := path.Join(display, p.Rel)
		if dir := path.Dir(p.Rel); plan.IndexRank(path.Base(p.Rel)) >= 0 && index[dir] != p.Rel {
			s.findings = append(s.findings, diag.At(name, 1, 1).As(diag.Warning, "index-page",
				fmt.Sprintf("%s is not built: the folder's page is %s (%s are chosen in that order)", path.Base(p.Rel), path.Base(index[dir]), strings.Join(plan.IndexNames, ", ")),
				fmt.Sprintf("merge it into %s, or rename it so it becomes a page of its own", path.Base(index[dir]))))
			continue
		}
		u, err := pageURL(p.Plan)
		if err != nil {
			pos := p.Plan.Pos("url")
			if p.Plan.URL == "" {
				pos = p.Plan.Pos("slug")
			}
			s.findings = append(s.findings, diag.At(name, pos.Line, pos.Col).Error("url", err.Error(), "use a path inside the site, for example url: /payments/canary/"))
			continue
		}
		typ := typePage
		switch {
		case p.Plan.Section && u == "/":
			typ = typeHome
		case p.Plan.Section:
			typ = typeSection
		case p.Plan.IsPlan():
			typ = typePlan
		}
		pg := contentPage(typ, u, p.Plan, xxhash.Sum64(p.Data))
		if other, dup := s.byURL[u]; dup {
			s.findings = append(s.findings, diag.At(name, 1, 1).Error("duplicate-url",
				fmt.Sprintf("page URL %s is also produced by %s", u, path.Join(display, other.Plan.Path)), "give one of them a different slug: or url:"))
			continue
		}
		if reservedURL(u) {
			s.findings = append(s.findings, diag.At(name, 1, 1).Error("duplicate-url",
				fmt.Sprintf("page URL %s is reserved for a generated page", u), "rename the file or set another slug:"))
			continue
		}
		s.byURL[u] = pg
		s.byPath[p.Rel] = pg
		s.pages = append(s.pages, pg)
	}
	for _, pg := range s.pages {
		for i, a := range pg.Plan.Aliases {
			au := path.Clean("/" + a)
			if strings.Contains(a, "..") {
				pos := pg.Plan.Pos(fmt.Sprintf("aliases[%d]", i))
				s.findings = append(s.findings, diag.At(path.Join(display, pg.Plan.Path), pos.Line, pos.Col).Error("url", fmt.Sprintf("alias %q escapes the output folder", a), "write a site path such as /old/path/"))
				continue
			}
			if path.Ext(au) == "" {
				au += "/"
			}
			if _, taken := s.byURL[au]; taken || s.aliases[au] != "" {
				pos := pg.Plan.Pos(fmt.Sprintf("aliases[%d]", i))
				s.findings = append(s.findings, diag.At(path.Join(display, pg.Plan.Path), pos.Line, pos.Col).Error("duplicate-url", fmt.Sprintf("alias %s is already a page or another alias", au), "remove the alias"))
				continue
			}
			s.aliases[au] = pg.URL
		}
	}
	sort.Slice(s.pages, func(i, j int) bool { return s.pages[i].URL < s.pages[j].URL })
	if w != nil {
		// Folders are slow to create on many disks; make them while the
		// plans are checked and rendered.
		dirs := make([]string, 0, len(s.pages))
		for _, pg := range s.pages {
			dirs = append(dirs, path.Dir(outputFile(pg.URL)))
		}
		w.PrepareDirs(dirs)
	}
	for _, pg := range s.pages {
		if pg.Type == "plan" {
			s.plans = append(s.plans, pg)
		}
	}

	if b.opts.layoutOnly {
		return s, nil
	}
	now := b.now()
	err = parallel(ctx, len(s.plans), func(i int) error {
		pg := s.plans[i]
		s.add(b.checkPage(pg, path.Join(display, pg.Plan.Path), now)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.loadAlerts(s)
	// rollbook.yaml's rules: decide what each finding is (SPEC 1.4).
	s.findings = b.cfg.Severities().Apply(s.findings)
	s.findings.Sort()
	s.findings = slices.Compact(s.findings) // plans that share a migration report its SQL alike
	b.attachDrills(s)
	return s, nil
}

// folderIndexes picks each folder's index page among its index files
// (plan.IndexNames, in that order), by folder.
func folderIndexes(ps []content.File, drafts bool) map[string]string {
	index := map[string]string{}
	for _, p := range ps {
		rank := plan.IndexRank(path.Base(p.Rel))
		if rank < 0 || !content.Shown(p.Plan, drafts) {
			continue
		}
		dir := path.Dir(p.Rel)
		if cur, ok := index[dir]; !ok || rank < plan.IndexRank(path.Base(cur)) {
			index[dir] = p.Rel
		}
	}
	return index
}

// checkPage runs the plan rules on a plan page and fills in what they
// find: its warnings, staleness and analysed migrations.
func (b *Builder) checkPage(pg *Page, name string, now time.Time) diag.List {
	contentDir := b.cfg.Path(b.cfg.ContentDir)
	ds := check.Plan(pg.Plan, name, check.Options{Now: now, StaleAfter: b.cfg.StaleAfterDuration(), ContentDir: contentDir, Analyze: b.analyze, Memo: b.store.memo()})
	ds = b.cfg.Severities().Apply(ds)
	pg.Warnings = ds.Warnings()
	pg.Stale = check.Stale(pg.Plan, now, b.cfg.StaleAfterDuration())
	pg.Migrations = b.migrationViews(pg, contentDir)
	b.attachAlerts(pg, name)
	return ds
}

// analyze runs the migration analyser once per file content.
func (b *Builder) analyze(file string) (migrate.Result, error) {
	b.mu.Lock()
	a, ok := b.analyses[file]
	b.mu.Unlock()
	key := fileVersion(file)
	if ok && a.key == key {
		return a.res, a.err
	}
	data, rerr := os.ReadFile(file)
	if rerr == nil {
		if res, ok := b.store.analysis(data); ok {
			b.mu.Lock()
			b.analyses[file] = analysis{res: res, key: key}
			b.mu.Unlock()
			return res, nil
		}
	}
	res, err := migrate.AnalyzeFile(file)
	if err == nil && rerr == nil {
		b.store.storeAnalysis(data, res)
	}
	b.mu.Lock()
	b.analyses[file] = analysis{res: res, err: err, key: key}
	b.mu.Unlock()
	return res, err
}

func (b *Builder) migrationViews(pg *Page, contentDir string) []MigrationView {
	var out []MigrationView
	for _, m := range pg.Plan.Migrations {
		v := MigrationView{Migration: m, Safety: m.Phase}
		if m.File != "" {
			rel := path.Join(path.Dir(pg.Plan.Path), m.File)
			if !strings.HasPrefix(rel, "../") && contentpath.Check(contentDir, rel) == nil {
				v.Link = "/" + rel
				if res, err := b.analyze(filepath.Join(contentDir, filepath.FromSlash(rel))); err == nil {
					v.Safety = string(res.Phase)
					v.Findings, v.Locks = res.Findings, res.Locks
				}
			}
		}
		v.Contract = m.Phase == "contract" || v.Safety == string(migrate.Contract)
		v.Timing = m.Timing(v.Contract)
		v.When = v.Timing.Describe(pg.Plan.Strategy.Steps)
		out = append(out, v)
	}
	return out
}

// fileVersion identifies a file's version by size and modification time.
func fileVersion(file string) string {
	st, err := os.Stat(file)
	if err != nil {
		return ""
	}
	return strconv.FormatInt(st.Size(), 10) + ":" + strconv.FormatInt(st.ModTime().UnixNano(), 10)
}

// inputKey is the stamp of this build's inputs (sitewrite.InputKey);
// the content it read is kept in b.read for the build to parse, so each
// file is read once.
func (b *Builder) inputKey(ctx context.Context) (string, error) {
	key, read, err := sitewrite.InputKey(ctx, sitewrite.Inputs{
		Salt:    fmt.Sprintf("%s\x00%s\x00%v\x00%v\x00%v\x00", buildVersion(), b.now().UTC().Format("2006-01-02"), b.opts.Drafts, b.opts.Strict, b.opts.Dev),
		Config:  b.cfg.File,
		Content: b.cfg.Path(b.cfg.ContentDir),
		Others:  []string{b.theme.dir, b.cfg.Path(b.cfg.DrillsDir)},
	})
	b.read = read
	return key, err
}

// openStore opens the persistent build cache for one Build.
func (b *Builder) openStore() {
	c := buildcache.Open(buildcache.Options{Dir: b.opts.CacheDir, Version: cacheVersion(), Logger: b.log})
	if c == nil {
		b.md.Begin(nil)
		return
	}
	b.store = &store{c: c, html: b.cfg.HTMLMode()}
	b.md.Begin(b.store)
}

// closeStore publishes what the build added to the cache; a cache that
// cannot be written only makes the next build slower.
func (b *Builder) closeStore() {
	b.md.End()
	if b.store == nil {
		return
	}
	if err := b.store.c.Close(); err != nil {
		b.log.Warn("build cache not written; the next build computes again what this one did", "dir", b.opts.CacheDir, "err", err)
	}
	b.store = nil
}

// Build builds the site into a folder beside public_dir and swaps it in.
func (b *Builder) Build(ctx context.Context) (*Result, error) {
	start := time.Now()
	b.memoGen++
	out := b.cfg.Path(b.cfg.PublicDir)
	// An in-memory build is always made (serve mode), so it needs no
	// input hash, which reads every input file.
	var key string
	var err error
	if !b.opts.Memory {
		if key, err = b.inputKey(ctx); err != nil {
			return nil, err
		}
	}
	if !b.opts.Force && key != "" && sitewrite.ReadStamp(out) == key {
		b.read = nil
		return &Result{Out: out, UpToDate: true, Duration: time.Since(start)}, nil
	}
	b.log.Debug("inputs hashed", "took", time.Since(start))
	var w *sitewrite.Writer
	wopts := sitewrite.Options{Minify: b.cfg.MinifyOutput(), AsyncCleanup: b.opts.Dev}
	if b.opts.Memory {
		w = sitewrite.NewMemory(wopts)
	} else if w, err = sitewrite.New(out, wopts); err != nil {
		return nil, err
	}
	defer w.Abort()
	b.openStore()
	defer b.closeStore()
	b.parses.Begin()
	b.cache.begin()
	ok := false
	defer func() {
		b.parses.Finish(ok)
		b.cache.finish(ok)
	}()
	lastChanged := b.readLastChanged(ctx)
	s, err := b.load(ctx, w)
	if err != nil {
		return nil, err
	}
	b.lastChanged = lastChanged()
	b.log.Debug("plans read and checked", "pages", len(s.pages), "parsed", b.parsed, "took", time.Since(start))
	if err := failOn(s.findings, b.opts.Strict); err != nil {
		return nil, err
	}
	// Exports come first: plan pages link to them.
	if err := b.writeExports(ctx, s, w); err != nil {
		return nil, err
	}
	if err := b.renderPages(ctx, s, true); err != nil {
		return nil, err
	}
	s.add(b.checkAnchors(s, s.pages, s.page)...)
	if b.opts.External != nil {
		s.add(b.checkExternal(ctx, s)...)
	}
	if err := failOn(s.findings, b.opts.Strict); err != nil {
		return nil, err
	}
	b.log.Debug("pages rendered", "took", time.Since(start))
	// The search index reads the rendered pages, which writing them and
	// the lists leave as they are (once outputs has made the home page
	// one): build it beside them (much of it runs on one core).
	sv := b.view(s)
	rows := b.outputs(s, sv)
	var idx *search.Live
	var docOf map[string]int
	searched := make(chan error, 1)
	go func() {
		var err error
		if !b.opts.noSearch {
			idx, docOf, err = b.writeSearch(ctx, s, w)
		}
		b.log.Debug("search index written", "took", time.Since(start))
		searched <- err
	}()
	genErr := b.writeOutputs(ctx, sv, w, rows)
	b.log.Debug("pages written", "from build cache", b.memoHits.Load(), "took", time.Since(start))
	if genErr == nil {
		genErr = b.writeGenerated(ctx, s, w, rows)
	}
	if err := errors.Join(genErr, <-searched); err != nil {
		return nil, err
	}
	if err := w.Stamp(key); err != nil {
		return nil, err
	}
	if err := w.Commit(); err != nil {
		return nil, err
	}
	ok = true
	b.pages = outputRecords(rows)
	if m := w.Files(); m != nil {
		b.files.Store(&m)
	}
	if b.opts.Memory && idx != nil {
		b.last = &state{s: s, search: idx, docOf: docOf}
		b.pending = nil
	}
	b.log.Debug("published", "took", time.Since(start))
	s.findings.Sort()
	b.log.Info("built site", "pages", len(s.pages), "out", out, "took", time.Since(start).Round(time.Millisecond))
	return &Result{Pages: len(s.pages), Findings: s.findings, Out: out, Duration: time.Since(start)}, nil
}

func failOn(ds diag.List, strict bool) error {
	if len(ds.Errors()) > 0 || strict && len(ds) > 0 {
		ds.Sort()
		return &FindingsError{Findings: ds, Strict: strict}
	}
	return nil
}

// parallel runs fn(0..n-1) on GOMAXPROCS goroutines, stopping at the
// first error or when ctx is done.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return fn(i)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// SourcePlan is one page of the content folder that the site shows.
type SourcePlan = content.SourcePlan

// Plans lists the pages the site would show: content.Plans over the
// project's content folder.
func Plans(ctx context.Context, cfg *config.Config, drafts bool) ([]SourcePlan, diag.List, error) {
	return content.Plans(ctx, cfg.Path(cfg.ContentDir), filepath.ToSlash(cfg.ContentDir), drafts)
}

// IsFindings reports whether err stopped a build on plan findings.
func IsFindings(err error) (*FindingsError, bool) {
	var fe *FindingsError
	ok := errors.As(err, &fe)
	return fe, ok
}
