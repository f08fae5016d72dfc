package site

import (
	"encoding/json"
	"html/template"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/markdown"
	"github.com/rollbook/rollbook/internal/migrate"
)

// pageCache keeps, between the builds of one Builder (rollbook serve),
// the rendered Markdown of each body (content.Memo keeps the parsed
// front matter). A build that must start over (a new or deleted plan)
// then renders only what changed. Entries a build did not use are
// dropped when it finishes.
type pageCache struct {
	mu       sync.Mutex
	rendered map[mdKey]markdown.Result
	nextMD   map[mdKey]markdown.Result
}

type mdKey struct {
	sum  uint64
	line int
}

func newPageCache() *pageCache {
	return &pageCache{rendered: map[mdKey]markdown.Result{}}
}

// begin starts a build: what it uses is kept for the next one.
func (c *pageCache) begin() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.nextMD = map[mdKey]markdown.Result{}
	c.mu.Unlock()
}

// finish keeps what the build used; a failed build keeps everything.
func (c *pageCache) finish(ok bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if ok {
		c.rendered = c.nextMD
	}
	c.nextMD = nil
	c.mu.Unlock()
}

// render returns the rendered body, from the cache when the same body
// starting on the same line was rendered before, else from md.
func (c *pageCache) render(md func() (markdown.Result, error), body []byte, line int) (markdown.Result, error) {
	if c == nil {
		return md()
	}
	k := mdKey{xxhash.Sum64(body), line}
	c.mu.Lock()
	res, ok := c.rendered[k]
	c.mu.Unlock()
	if !ok {
		var err error
		if res, err = md(); err != nil {
			return res, err
		}
		if res.Unstable {
			return res, nil // right for this build, not kept for the next
		}
	}
	c.mu.Lock()
	if c.nextMD != nil {
		c.nextMD[k] = res
	}
	c.mu.Unlock()
	return res, nil
}

// store is the persistent build cache (internal/buildcache) as a build
// uses it: highlighted blocks and rendered bodies, keyed by their inputs,
// the options that change them and the binary's version. A nil c is a
// build without it.
type store struct {
	c    *buildcache.Cache
	html markdown.HTMLMode // raw HTML sanitized, passed or escaped: bodies render differently
}

// Block is a highlighted block from an earlier build.
func (s *store) Block(lang, code string) (string, bool) {
	data, ok := s.c.Get(s.c.Key("block", []byte(lang), []byte(code)))
	return string(data), ok
}

// StoreBlock keeps a highlighted block for the next builds.
func (s *store) StoreBlock(lang, code, html string) {
	s.c.Put(s.c.Key("block", []byte(lang), []byte(code)), []byte(html))
}

func (s *store) bodyKey(body []byte, line int) buildcache.Key {
	return s.c.Key("body", []byte(s.html.String()), []byte(strconv.Itoa(line)), body)
}

// render renders a plan's body, or reads it from an earlier build; k is
// its bodyKey.
func (s *store) render(md *markdown.Renderer, k buildcache.Key, body []byte, line int) (markdown.Result, error) {
	res, html, err := s.renderLazy(md, k, body, line)
	if err == nil && html != nil {
		res.HTML, err = html()
	}
	return res, err
}

// renderLazy is render leaving out the HTML when it comes from an
// earlier build: html, when not nil, reads it. The HTML is kept apart
// from the rest (headings, links, words), which every page needs; a
// cached build needs the HTML of few pages, and it is most of the bytes.
func (s *store) renderLazy(md *markdown.Renderer, k buildcache.Key, body []byte, line int) (res markdown.Result, html func() (template.HTML, error), err error) {
	if s == nil || s.c == nil {
		res, err = md.Render(body, line)
		return res, nil, err
	}
	if data, ok := s.c.Get(k); ok {
		if res, err := decodeResult(data); err == nil {
			return res, func() (template.HTML, error) {
				if data, ok := s.c.Get(s.htmlKey(k)); ok {
					return template.HTML(ownedString(data)), nil //nolint:gosec // rendered by markdown.Render
				}
				// The rest was kept and the HTML not (a damaged entry):
				// rendering again gives what it was.
				again, err := md.Render(body, line)
				return again.HTML, err
			}, nil
		}
	}
	res, err = md.Render(body, line)
	if err == nil && !res.Unstable {
		s.c.Put(k, encodeResult(res))
		s.c.Put(s.htmlKey(k), readOnly(string(res.HTML)))
	}
	return res, nil, err
}

// htmlKey names the HTML of the body whose bodyKey is k.
func (s *store) htmlKey(k buildcache.Key) buildcache.Key { return s.c.Key("body-html", k[:]) }

// Get and Put make the store the checks' Memo (check.Options).
func (s *store) Get(kind string, inputs ...[]byte) ([]byte, bool) {
	return s.c.Get(s.c.Key(kind, inputs...))
}

func (s *store) Put(data []byte, kind string, inputs ...[]byte) {
	s.c.Put(s.c.Key(kind, inputs...), data)
}

// cache is the store's build cache, nil without one.
func (s *store) cache() *buildcache.Cache {
	if s == nil {
		return nil
	}
	return s.c
}

// memo is the store as a check.Memo (and a search.AnalysisCache, which
// has its shape), nil (not a nil *store) without one.
func (s *store) memo() check.Memo {
	if s == nil || s.c == nil {
		return nil
	}
	return s
}

// analysis is a migration file's analysis from an earlier build; only
// files that parse are kept (an error names the file's path).
func (s *store) analysis(data []byte) (migrate.Result, bool) {
	if s == nil || s.c == nil {
		return migrate.Result{}, false
	}
	raw, ok := s.c.Get(s.c.Key("migration", data))
	if !ok {
		return migrate.Result{}, false
	}
	var res migrate.Result
	if json.Unmarshal(raw, &res) != nil || res.Phase != migrate.Expand && res.Phase != migrate.Contract {
		return migrate.Result{}, false
	}
	return res, true
}

func (s *store) storeAnalysis(data []byte, res migrate.Result) {
	if s == nil || s.c == nil {
		return
	}
	if raw, err := json.Marshal(res); err == nil {
		s.c.Put(s.c.Key("migration", data), raw)
	}
}

// encodeResult writes a render result but its HTML (see renderLazy).
func encodeResult(r markdown.Result) []byte {
	var e buildcache.Encoder
	e.String(r.Title)
	e.Int(r.Words)
	e.Int(len(r.Headings))
	for _, h := range r.Headings {
		e.Int(h.Level)
		e.String(h.ID)
		e.String(h.Text)
	}
	e.Int(len(r.Links))
	for _, l := range r.Links {
		e.String(l.Dest)
		e.Int(l.Line)
	}
	e.Int(len(r.Findings))
	for _, f := range r.Findings {
		e.String(f.Rule)
		e.Int(f.Line)
		e.Int(f.Col)
		e.String(f.Message)
		e.String(f.Fix)
	}
	return e.Bytes()
}

// decodeResult reads a render result from data, which it keeps: the
// strings share it (what the build cache's Get returns is the caller's).
func decodeResult(data []byte) (markdown.Result, error) {
	d := buildcache.NewDecoder(data)
	r := markdown.Result{Title: d.String(), Words: d.Int()}
	if n := d.Int(); n > 0 && n <= len(data) {
		r.Headings = make([]markdown.Heading, n)
		for i := range r.Headings {
			r.Headings[i] = markdown.Heading{Level: d.Int(), ID: d.String(), Text: d.String()}
		}
	}
	if n := d.Int(); n > 0 && n <= len(data) {
		r.Links = make([]markdown.Link, n)
		for i := range r.Links {
			r.Links[i] = markdown.Link{Dest: d.String(), Line: d.Int()}
		}
	}
	if n := d.Int(); n > 0 && n <= len(data) {
		r.Findings = make([]markdown.Finding, n)
		for i := range r.Findings {
			r.Findings[i] = markdown.Finding{Rule: d.String(), Line: d.Int(), Col: d.Int(), Message: d.String(), Fix: d.String()}
		}
	}
	return r, d.Err()
}

var (
	cacheVersionOnce sync.Once
	cacheVersionHash string
)

// cacheVersion identifies the binary for the build cache by its bytes,
// as Go's build cache names its tools: a CI job that builds rollbook from
// the same commit again gets the same version (buildVersion, which the
// output stamp uses, changes with the file's time), and any other build
// of rollbook gets another. Hashing the binary costs a few milliseconds.
func cacheVersion() string {
	cacheVersionOnce.Do(func() {
		cacheVersionHash = "v:" + buildVersion()
		exe, err := os.Executable()
		if err != nil {
			return
		}
		f, err := os.Open(exe)
		if err != nil {
			return
		}
		defer f.Close()
		h := xxhash.New()
		if _, err := io.Copy(h, f); err != nil {
			return
		}
		cacheVersionHash = "exe:" + strconv.FormatUint(h.Sum64(), 16)
	})
	return cacheVersionHash
}
