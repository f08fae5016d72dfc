package site

import (
	"context"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rollbook/rollbook/internal/buildcache"
	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/search"
	"github.com/rollbook/rollbook/internal/sitewrite"
)

// plainText strips tags from rendered HTML for the search index.
func plainText(h string) string {
	var b strings.Builder
	b.Grow(len(h))
	in := false
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '<':
			in = true
			b.WriteByte(' ')
		case c == '>' && in:
			in = false
		case !in:
			b.WriteByte(c)
		}
	}
	return collapseSpace(html.UnescapeString(b.String()))
}

// collapseSpace is strings.Join(strings.Fields(s), " ") without the slice
// of every word: a plan's body is thousands of them.
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pending := false // a space is owed before the next word
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiSpace[c] {
				pending = b.Len() > 0
				i++
				continue
			}
			if pending {
				b.WriteByte(' ')
				pending = false
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			pending = b.Len() > 0
		} else {
			if pending {
				b.WriteByte(' ')
				pending = false
			}
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// searchDoc turns a rendered page into what the index needs.
func searchDoc(pg *Page) (search.Doc, error) { return searchDocFrom(pg, nil) }

// searchDocFrom is searchDoc reading and storing the page's text in m,
// the persistent build cache, when it is not nil.
func searchDocFrom(pg *Page, m check.Memo) (search.Doc, error) {
	p := pg.Plan
	d := search.Doc{URL: pg.URL, Title: pg.Title, Service: p.Service, Kind: p.Kind, Risk: p.Risk,
		Environments: p.Environments, Owners: p.Owners, Tags: p.Tags}
	if pg.Drill != nil {
		d.Drill = pg.Drill.Result
	} else if len(p.Gameday.Scenarios) > 0 {
		d.Drill = "none"
	}
	for _, h := range pg.Headings {
		d.Headings = append(d.Headings, search.Heading{ID: h.ID, Text: h.Text})
	}
	d.Alerts, d.Severity = alertTerms(pg)
	body, err := cachedPlainText(m, pg)
	if err != nil {
		return search.Doc{}, err
	}
	d.Body = body
	d.Summary = p.Change.Summary
	if d.Summary == "" {
		d.Summary = p.Description
	}
	if d.Summary == "" {
		d.Summary = d.Body
	}
	d.Summary = shortSummary(d.Summary)
	return d, nil
}

// shortSummary cuts s to 157 runes and an ellipsis when it is longer than
// 160, as string([]rune(s)[:157])+"…" does, without converting the whole
// of a plan's body (the summary of a plan without one) to runes.
func shortSummary(s string) string {
	n, cut := 0, 0
	for i := range s {
		if n == 157 {
			cut = i
		}
		if n++; n > 160 {
			return string([]rune(s[:cut])) + "…"
		}
	}
	return s
}

// cachedPlainText is pg's text without markup, from m (nil for none)
// when an earlier build stripped the same content, named by its content
// key: stripping ten thousand plans' markup costs more than reading their
// text back, and the HTML is read only on a miss.
func cachedPlainText(m check.Memo, pg *Page) (string, error) {
	text := func() (string, error) {
		if err := pg.ensureContent(); err != nil {
			return "", err
		}
		return plainText(string(pg.Content)), nil
	}
	// A build with a cache names every rendered page's content.
	ck := pg.contentKey()
	if m == nil || ck == (buildcache.Key{}) {
		return text()
	}
	key := ck[:]
	if data, ok := m.Get("plaintext-of", key); ok {
		return ownedString(data), nil // a Memo's data is the caller's
	}
	t, err := text()
	if err == nil {
		m.Put([]byte(t), "plaintext-of", key)
	}
	return t, err
}

// indexed reports whether the search index holds a page: lists (home,
// sections) are not searched.
func indexed(pg *Page) bool { return pg.Type != "home" && pg.Type != "section" }

// searchPages lists the pages the index holds, in index order.
func searchPages(s *loaded) []*Page {
	var out []*Page
	for _, pg := range s.pages {
		if indexed(pg) {
			out = append(out, pg)
		}
	}
	return out
}

// writeSearch builds the index from every page with a body and writes it
// under _search/; docOf gives each page's document number. It stops when
// ctx, the build's, is done.
func (b *Builder) writeSearch(ctx context.Context, s *loaded, w *sitewrite.Writer) (idx *search.Live, docOf map[string]int, err error) {
	m := b.store.memo()
	pages := searchPages(s)
	docs := make([]search.Doc, len(pages))
	docOf = make(map[string]int, len(pages))
	// Each page's text is stripped of its markup on every core.
	err = parallel(ctx, len(pages), func(i int) (err error) {
		docs[i], err = searchDocFrom(pages[i], m)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	for i, pg := range pages {
		docOf[pg.URL] = i
	}
	if m != nil {
		idx, err = search.NewLiveCached(ctx, docs, m)
	} else {
		idx, err = search.NewLive(ctx, docs)
	}
	if err != nil {
		return nil, nil, err
	}
	for name, data := range idx.Files() {
		if err := w.Write("_search/"+name, data); err != nil {
			return nil, nil, err
		}
	}
	return idx, docOf, nil
}
