package site

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"slices"
	"sync"
	"text/template/parse"
	"unsafe"

	"github.com/rollbook/rollbook/internal/buildcache"
)

// A page's rendered HTML is kept in the persistent build cache when its
// templates read nothing but the page and a few values of the site: then
// its record (deps.go: its own values, the keys of the pages it lists)
// and those values are all its inputs, and a CI build with the cache
// restored executes the templates only for what changed (executing them
// is most of such a build's work). Which values of the site the templates
// read is read from the templates themselves, so a theme that lists every
// plan on a plan page (.Site.Plans) is simply rendered each time.

// memoSite are the fields of the site a memoized page may read, each with
// the value that goes into the page's key.
var memoSite = map[string]func(sv *siteView) string{
	"Title":       func(sv *siteView) string { return sv.Title },
	"Description": func(sv *siteView) string { return sv.Description },
	"BaseURL":     func(sv *siteView) string { return sv.BaseURL },
	"BasePath":    func(sv *siteView) string { return sv.BasePath },
	"Dev":         func(sv *siteView) string { return boolKey(sv.Dev) },
	"Bundle":      func(sv *siteView) string { return boolKey(sv.Bundle) },
	"AlertsURL":   func(sv *siteView) string { return sv.AlertsURL },
	"Now":         func(sv *siteView) string { return sv.Now.UTC().Format("2006-01-02T15:04:05.999999999") },
}

// taxonomyField are the fields of a list page's Taxonomy its key holds.
var taxonomyField = map[string]bool{"Key": true, "Title": true, "Single": true}

func boolKey(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// memoRule says whether pages of one type can be memoized, and which
// values of the site their key needs.
type memoRule struct {
	ok bool
	// site are the memoSite fields the templates read, sorted.
	site []string
	// staleCount: the templates show how many plans are stale.
	staleCount bool
}

// memoRuleOf reads the templates one page type executes, from base.html
// through every template it calls (and the plan card, when it shows
// cards). It is conservative: any use of the site it cannot account for,
// the whole site value passed on, or a taxonomy's terms, and the type is
// not memoized. A list's cards are what its plans' own keys cover.
func memoRuleOf(t interface {
	Lookup(string) *parse.Tree
}) memoRule {
	r := memoRule{ok: true}
	site := map[string]bool{}
	seen := map[string]bool{}
	var walk func(n parse.Node)
	var tree func(name string)
	idents := func(chain []string) {
		for i, id := range chain {
			switch id {
			case "Card", "Cards":
				// A card is the plan card partial run on a listed page:
				// what it reads of the site goes into the key too.
				tree(cardTemplate)
			case "Taxonomy":
				// Its name, not its terms (every other list).
				if i+1 >= len(chain) || !taxonomyField[chain[i+1]] {
					r.ok = false
				}
			case "Terms":
				r.ok = false // a taxonomy's terms, whatever holds them
			case "Site":
				if i+1 >= len(chain) {
					r.ok = false // the site value itself goes somewhere
					continue
				}
				next := chain[i+1]
				if _, known := memoSite[next]; known {
					site[next] = true
				} else {
					r.ok = false
				}
			}
		}
	}
	chainOf := func(n parse.Node) []string {
		switch n := n.(type) {
		case *parse.FieldNode:
			return n.Ident
		case *parse.VariableNode:
			return n.Ident
		case *parse.ChainNode:
			return n.Field
		}
		return nil
	}
	walk = func(n parse.Node) {
		if n == nil || reflect.ValueOf(n).IsNil() {
			return
		}
		switch n := n.(type) {
		case *parse.ListNode:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			// {{len .Site.Stale}} is the one use of a site list a page may
			// make: the count goes into its key.
			if len(n.Args) == 2 {
				if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "len" {
					if c := chainOf(n.Args[1]); len(c) >= 2 && c[len(c)-2] == "Site" && c[len(c)-1] == "Stale" {
						r.staleCount = true
						idents(c[:len(c)-2])
						return
					}
				}
			}
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.ChainNode:
			walk(n.Node)
			idents(n.Field)
		case *parse.FieldNode:
			idents(n.Ident)
		case *parse.VariableNode:
			idents(n.Ident)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
			tree(n.Name)
		}
	}
	tree = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		tr := t.Lookup(name)
		if tr == nil {
			r.ok = false // executing it fails; nothing to keep
			return
		}
		walk(tr.Root)
	}
	tree("base.html")
	for f := range site {
		r.site = append(r.site, f)
	}
	slices.Sort(r.site)
	return r
}

// pageKey is the cache key of the page d records: the hash of its
// record, or false when the record cannot name all it reads (d.whole,
// a page whose source no full build read, a listed page without a key
// of this build).
func (b *Builder) pageKey(sv *siteView, d *deps) (buildcache.Key, bool) {
	pg := d.page
	if d.whole || d.alerts != nil || b.store == nil || b.store.c == nil || pg.Plan != nil && (d.source == nil || d.hash == 0) || b.cfgSum() == "" {
		return buildcache.Key{}, false
	}
	h := sha256.New()
	var n [8]byte
	num := func(v uint64) {
		binary.LittleEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	str := func(s string) {
		num(uint64(len(s)))
		h.Write(readOnly(s))
	}
	str(string(pg.Type))
	str(b.theme.sum)
	str(b.cfgSum())
	num(uint64(len(d.site)))
	for _, v := range d.site {
		str(v)
	}
	num(uint64(d.stale))
	v := view{Site: sv, Page: pg}
	str(v.EditURL())
	str(v.LastChanged().UTC().Format("2006-01-02T15:04:05.999999999Z"))
	str(pg.URL)
	str(pg.Title)
	if pg.Plan != nil {
		// Parsed from the source (which also holds where each value was
		// written, which templates may ask).
		num(d.hash)
		str(pg.Plan.Path)
	} else {
		str("")
	}
	if d.source != nil && d.contentKey != (buildcache.Key{}) {
		h.Write(d.contentKey[:]) // what the HTML is made of, not the HTML
	} else {
		str(string(pg.Content))
	}
	own, err := json.Marshal(pg.Own)
	if err != nil {
		return buildcache.Key{}, false
	}
	h.Write(own)
	if t := d.tax; t != nil {
		str(t.Key)
		str(t.Title)
		str(t.Single)
	}
	// A list shows its pages' cards or rows: each page's own key, made
	// in this build by a row written before, covers all it shows of it.
	num(uint64(len(d.lists)))
	for _, p := range d.lists {
		l := p.rec
		if l == nil || p.Type == pg.Type || l.memoGen != b.memoGen || l.memoKey == (buildcache.Key{}) {
			return buildcache.Key{}, false
		}
		h.Write(l.memoKey[:])
	}
	return b.store.c.Key("page", h.Sum(nil)), true
}

// cfgSum hashes the loaded configuration once: any setting may show on a
// page, and settings rarely change.
func (b *Builder) cfgSum() string {
	b.cfgOnce.Do(func() {
		// Where the project and its output are does not show on a page:
		// a CI checkout is in a new folder each time.
		c := *b.cfg
		c.Root, c.File, c.PublicDir = "", "", ""
		data, err := json.Marshal(c)
		if err != nil {
			return // "" never matches: a key needs it
		}
		sum := sha256.Sum256(append(data, boolKey(b.opts.Drafts)+boolKey(b.opts.Dev)...))
		b.cfgHash = string(sum[:])
	})
	return b.cfgHash
}

// memoPage gives pg's HTML from the build cache when an earlier build
// rendered the same page, else renders it (and keeps it). A page from the
// cache is decoded into a pooled buffer, which release gives back once
// the page is written: a cached build writes ten thousand of them and
// keeps none.
func (b *Builder) memoPage(sv *siteView, d *deps, render func() ([]byte, error)) (out []byte, release func(), err error) {
	k, ok := b.pageKey(sv, d)
	d.memoKey, d.memoGen = k, b.memoGen
	if !ok {
		out, err = render()
		return out, nil, err
	}
	buf := pageBufs.Get().(*[]byte)
	if out, hit := b.store.c.GetInto(k, *buf); hit {
		b.memoHits.Add(1)
		d.hit = true
		return out, func() {
			if cap(out) <= maxPooledPage {
				*buf = out[:0]
				pageBufs.Put(buf)
			}
		}, nil
	}
	pageBufs.Put(buf)
	out, err = render()
	if err == nil {
		b.store.c.Put(k, out)
	}
	return out, nil, err
}

// pageBufs are the buffers memoized pages are decoded into; a page larger
// than maxPooledPage is not kept for the next.
var pageBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledPage = 1 << 20

// readOnly is s's bytes without a copy, for a hash or a cache key to
// read: a page key hashes every page's HTML, and a copy would double the
// bytes that work touches. The bytes must not be changed or kept.
func readOnly(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// ownedString is b as a string without a copy, for bytes that are the
// caller's to give away (what the build cache's Get returns) and are not
// changed afterwards.
func ownedString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
