package site

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/template/parse"

	"github.com/cespare/xxhash/v2"
	"github.com/tdewolff/minify/v2"
	"github.com/tdewolff/minify/v2/html"

	"github.com/rollbook/rollbook/internal/config"
	"github.com/rollbook/rollbook/themes"
)

// htmlTemplateMinifier minifies template source once at theme load, keeping
// Go template actions intact, so pages need no minifying per build.
var htmlTemplateMinifier = func() *minify.M {
	m := minify.New()
	m.Add("text/html", &html.Minifier{KeepDocumentTags: true, KeepEndTags: true, KeepQuotes: true, KeepDefaultAttrVals: true, TemplateDelims: html.GoTemplateDelims})
	return m
}()

// theme is the set of templates and static files a site renders with: the
// embedded default, with any file in themes/NAME on disk taking its place.
type theme struct {
	dir    string // override folder on disk, "" if none
	pages  map[PageType]*template.Template
	static map[string][]byte
	// partials alone, to render a plan card by itself (see view.Card).
	partials *template.Template
	// sum hashes every template; memo says which page types the build
	// cache may keep whole (pagememo.go).
	sum  string
	memo map[PageType]memoRule
}

func loadTheme(cfg *config.Config) (*theme, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(themes.Default, "default", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := themes.Default.ReadFile(p)
		files[strings.TrimPrefix(p, "default/")] = data
		return err
	})
	if err != nil {
		return nil, err
	}
	th := &theme{pages: map[PageType]*template.Template{}, static: map[string][]byte{}, memo: map[PageType]memoRule{}}
	dir := cfg.Path(filepath.Join("themes", cfg.Theme))
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		th.dir = dir
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			data, err := os.ReadFile(p)
			files[filepath.ToSlash(rel)] = data
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reading theme %s: %w", dir, err)
		}
	} else if cfg.Theme != "default" {
		return nil, fmt.Errorf("theme %q not found: create themes/%s/ (with templates/ and static/) or set theme: default", cfg.Theme, cfg.Theme)
	}
	for name, src := range files {
		if strings.HasPrefix(name, "templates/") && strings.HasSuffix(name, ".html") && cfg.MinifyOutput() {
			var buf bytes.Buffer
			if err := htmlTemplateMinifier.Minify("text/html", &buf, bytes.NewReader(src)); err == nil {
				files[name] = buf.Bytes()
			}
		}
	}
	var partials []string
	for name := range files {
		switch {
		case strings.HasPrefix(name, "static/"):
			th.static[strings.TrimPrefix(name, "static/")] = files[name]
		case strings.HasPrefix(name, "templates/partials/"), name == "templates/base.html":
			partials = append(partials, name)
		}
	}
	sort.Strings(partials)
	base := template.New("").Funcs(funcs)
	for _, name := range partials {
		if _, err := base.New(path.Base(name)).Parse(string(files[name])); err != nil {
			return nil, fmt.Errorf("theme template %s: %w", name, err)
		}
	}
	if th.partials, err = base.Clone(); err != nil {
		return nil, err
	}
	// Each row of pageTypes is rendered by its template with base.html and
	// the partials.
	for _, k := range pageTypes {
		pt := k.typ
		name := "templates/" + string(pt) + ".html"
		src, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("theme is missing %s", name)
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.New(string(pt) + ".html").Parse(string(src)); err != nil {
			return nil, fmt.Errorf("theme template %s: %w", name, err)
		}
		th.pages[pt] = t
		th.memo[pt] = memoRuleOf(treeLookup{t})
	}
	h := sha256.New()
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		if strings.HasPrefix(name, "templates/") {
			fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
			h.Write(files[name])
		}
	}
	th.sum = string(h.Sum(nil))
	return th, nil
}

// treeLookup finds a template's parse tree by name, before execution
// (html/template rewrites the trees when it first escapes them).
type treeLookup struct{ t *template.Template }

func (l treeLookup) Lookup(name string) *parse.Tree {
	if t := l.t.Lookup(name); t != nil {
		return t.Tree
	}
	return nil
}

// cardTemplate is the partial a plan card is.
const cardTemplate = "plancard"

// card renders one plan card (the "plancard" partial).
func (th *theme) card(data any) (template.HTML, error) {
	var buf bytes.Buffer
	if err := th.partials.ExecuteTemplate(&buf, cardTemplate, data); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil //nolint:gosec // the partial's output, escaped by html/template
}

func (th *theme) render(pageType PageType, data any) ([]byte, error) {
	t, ok := th.pages[pageType]
	if !ok {
		return nil, fmt.Errorf("no template for page type %q", pageType)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base.html", data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var (
	versionOnce sync.Once
	version     string
)

// buildVersion identifies the code and embedded theme a build is made with,
// so a new rollbook binary never reuses an old build.
func buildVersion() string {
	versionOnce.Do(func() {
		h := xxhash.New()
		if bi, ok := debug.ReadBuildInfo(); ok {
			h.WriteString(bi.Main.Version)
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
					h.WriteString(s.Value)
				}
			}
		}
		if exe, err := os.Executable(); err == nil {
			if st, err := os.Stat(exe); err == nil {
				fmt.Fprintf(h, "%d%d", st.Size(), st.ModTime().UnixNano())
			}
		}
		_ = fs.WalkDir(themes.Default, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := themes.Default.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			h.WriteString(p)
			h.Write(data)
			return err
		})
		version = fmt.Sprintf("%x", h.Sum64())
	})
	return version
}
