package markdown

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
	xhtml "golang.org/x/net/html"
)

// HTMLMode says what a body's raw HTML becomes.
type HTMLMode int

const (
	// HTMLSanitize keeps the HTML that GitHub and GitLab show (details,
	// br, kbd, img, tables, safe links, ...) and drops the rest with a
	// raw-html finding naming what went: the default.
	HTMLSanitize HTMLMode = iota
	// HTMLUnsafe passes every tag through, scripts included.
	HTMLUnsafe
	// HTMLEscape shows raw HTML as text.
	HTMLEscape
)

// String is the mode as rollbook.yaml's unsafe_html writes it, and as
// cache keys tell the modes apart.
func (m HTMLMode) String() string {
	switch m {
	case HTMLUnsafe:
		return "true"
	case HTMLEscape:
		return "escape"
	}
	return "false"
}

// allowed is the HTML a runbook may carry: what GitHub's and GitLab's
// renderers keep of the runbooks teams bring, less what could run or
// restyle the site. bluemonday decides each tag; sanitizer only says
// what it dropped and keeps the tags balanced.
var allowed = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("details", "summary", "br", "kbd", "sup", "sub", "b", "i", "strong", "em", "code", "pre", "samp", "var",
		"p", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "blockquote",
		"del", "ins", "s", "strike", "mark", "small", "abbr", "q", "div", "span",
		"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col")
	p.AllowAttrs("open").Matching(regexp.MustCompile(`^(|open)$`)).OnElements("details")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^[\w -]+$`)).OnElements("div", "span")
	p.AllowAttrs("title").Globally()
	p.AllowAttrs("align").Matching(bluemonday.CellAlign).OnElements("p", "div", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6")
	p.AllowAttrs("align").Matching(bluemonday.ImageAlign).OnElements("img")
	p.AllowAttrs("colspan", "rowspan").Matching(bluemonday.Integer).OnElements("td", "th")
	p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
	p.AllowAttrs("alt").OnElements("img")
	p.AllowAttrs("width", "height").Matching(bluemonday.NumberOrPercent).OnElements("img")
	p.AllowAttrs("src").Matching(imageSrc).OnElements("img")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("name").Matching(regexp.MustCompile(`^[\w.:-]+$`)).OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowRelativeURLs(true)
	p.RequireParseableURLs(true)
	return p
}()

// tags remembers what the allowlist made of a tag as written: runbooks
// repeat the same few (<details>, <summary>, <br>) on every page, and
// bluemonday reads each with a tokenizer of its own. Bounded, so a hostile
// corpus cannot grow it without end.
var tags struct {
	sync.Map // raw tag -> keptTag
	n        atomic.Int64
}

const maxTags, maxTagLen = 4096, 256

// keptTag is a tag as the allowlist writes it, and its attributes.
type keptTag struct {
	clean string
	attrs map[string]string
}

func sanitizeTag(raw string) keptTag {
	if v, ok := tags.Load(raw); ok {
		return v.(keptTag)
	}
	k := keptTag{clean: allowed.Sanitize(raw), attrs: map[string]string{}}
	if k.clean != "" {
		for _, a := range attrsOf(k.clean) {
			k.attrs[a.Key] = a.Val
		}
	}
	if len(raw) <= maxTagLen && tags.n.Load() < maxTags {
		if _, loaded := tags.LoadOrStore(raw, k); !loaded {
			tags.n.Add(1)
		}
	}
	return k
}

// imageSrc is an image source a page may load: relative to the page, or
// https (an http image on an https site is blocked or warned about by
// browsers). data: URLs never pass.
var imageSrc = regexp.MustCompile(`^(?i:https://|//|[^:/?#]*(?:[/?#]|$))`)

// voids have no end tag.
var voids = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true, "input": true,
	"link": true, "meta": true, "source": true, "track": true, "wbr": true}

// optionalEnd may be left open in valid HTML: closing them implicitly is
// not worth a finding.
var optionalEnd = map[string]bool{"li": true, "p": true, "dt": true, "dd": true, "tr": true, "td": true, "th": true,
	"thead": true, "tbody": true, "tfoot": true, "colgroup": true, "caption": true}

// siblingEnds groups the elements a sibling of the same group ends.
var siblingEnds = map[string]string{"li": "li", "dt": "dt", "dd": "dt", "tr": "tr", "td": "td", "th": "td",
	"thead": "thead", "tbody": "thead", "tfoot": "thead"}

// dropContent are dropped with what they hold, not only their tags.
var dropContent = map[string]bool{"script": true, "style": true, "iframe": true, "object": true, "noscript": true,
	"noembed": true, "noframes": true, "frameset": true, "template": true, "title": true, "textarea": true, "xmp": true}

// maxDepth bounds how deeply a body's raw HTML nests: deeper tags are
// dropped, so a hostile page cannot make every later render slow.
const maxDepth = 32

const rawHTMLFix = "remove it, or write it in Markdown; unsafe_html: true in rollbook.yaml passes all HTML through if every author is trusted"

// The sanitized nodes hold what the allowlist kept of a raw HTML block or
// inline tag, written out as it is.
var (
	kindSafeHTMLBlock = ast.NewNodeKind("SafeHTMLBlock")
	kindSafeRawHTML   = ast.NewNodeKind("SafeRawHTML")
)

type safeHTMLBlock struct {
	ast.BaseBlock
	html []byte
}

func (n *safeHTMLBlock) Kind() ast.NodeKind         { return kindSafeHTMLBlock }
func (n *safeHTMLBlock) IsRaw() bool                { return true }
func (n *safeHTMLBlock) Dump(src []byte, level int) { ast.DumpHelper(n, src, level, nil, nil) }

type safeRawHTML struct {
	ast.BaseInline
	html []byte
}

func (n *safeRawHTML) Kind() ast.NodeKind         { return kindSafeRawHTML }
func (n *safeRawHTML) Dump(src []byte, level int) { ast.DumpHelper(n, src, level, nil, nil) }

// registerSafeHTML registers the sanitized nodes' renderer.
func registerSafeHTML(reg renderer.NodeRendererFuncRegisterer, r *nodeRenderer) {
	reg.Register(kindSafeHTMLBlock, r.safeHTML)
	reg.Register(kindSafeRawHTML, r.safeHTML)
}

func (r *nodeRenderer) safeHTML(w util.BufWriter, _ []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		switch v := n.(type) {
		case *safeHTMLBlock:
			_, _ = w.Write(v.html)
		case *safeRawHTML:
			_, _ = w.Write(v.html)
		}
	}
	return ast.WalkSkipChildren, nil
}

// sanitizer replaces each raw HTML node of a parsed body by what the
// allowlist keeps of it. The body's nodes are one document: a <details>
// opened in one block and closed in another stays one element, a
// closing tag that closes nothing opened in the body is dropped (it would
// close the theme's own elements), and what is left open is closed at the
// end of the body.
type sanitizer struct{}

func (sanitizer) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	var raws []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && (n.Kind() == ast.KindHTMLBlock || n.Kind() == ast.KindRawHTML) {
			raws = append(raws, n)
		}
		return ast.WalkContinue, nil
	})
	if len(raws) == 0 {
		return
	}
	f := &htmlFilter{src: reader.Source(), notes: notesOf(pc)}
	for _, n := range raws {
		switch v := n.(type) {
		case *ast.HTMLBlock:
			segs := v.Lines().Sliced(0, v.Lines().Len())
			if v.HasClosure() {
				segs = append(segs, v.ClosureLine)
			}
			out := &safeHTMLBlock{html: f.filter(segs)}
			out.SetBlankPreviousLines(v.HasBlankPreviousLines())
			v.Parent().ReplaceChild(v.Parent(), v, out)
		case *ast.RawHTML:
			out := &safeRawHTML{html: f.filter(v.Segments.Sliced(0, v.Segments.Len()))}
			v.Parent().ReplaceChild(v.Parent(), v, out)
			// An inline <script> holds Markdown text up to its </script>:
			// that text goes with it.
			for next := out.NextSibling(); f.skip != "" && next != nil && next.Kind() != ast.KindRawHTML; next = out.NextSibling() {
				out.Parent().RemoveChild(out.Parent(), next)
			}
		}
	}
	if closers := f.closeAll(); len(closers) > 0 {
		doc.AppendChild(doc, &safeHTMLBlock{html: closers})
	}
}

// open is an element opened in raw HTML and not yet closed.
type open struct {
	name string
	kept bool // its tag was written out, so its end tag is too
	off  int  // where it was opened, in the source
}

// htmlFilter runs the raw HTML of one body through the allowlist.
type htmlFilter struct {
	src   []byte
	notes *notes
	stack []open
	// skip is the element whose content is being dropped, and how many
	// of it are open inside it.
	skip      string
	skipDepth int
	deepNoted bool
	deep      int // elements open beyond maxDepth, dropped
	out       bytes.Buffer
}

// filter returns what the allowlist keeps of the raw HTML in segs.
func (f *htmlFilter) filter(segs []text.Segment) []byte {
	var buf []byte
	starts := make([]int, len(segs)) // where each segment starts in buf
	for i, s := range segs {
		starts[i] = len(buf)
		buf = append(buf, s.Value(f.src)...)
	}
	seg := 0 // tokens come in order: the segment only moves forward
	srcOff := func(o int) int {
		for seg+1 < len(starts) && starts[seg+1] <= o {
			seg++
		}
		return segs[seg].Start + max(0, o-starts[seg]-segs[seg].Padding)
	}
	f.out.Reset()
	z := xhtml.NewTokenizer(bytes.NewReader(buf))
	pos := 0
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			if z.Err() != io.EOF {
				f.notes.add(RuleRawHTML, srcOff(pos), "raw HTML could not be read past this point; the rest of it is dropped", rawHTMLFix)
			}
			break
		}
		raw := string(z.Raw())
		at := srcOff(pos)
		pos += len(raw)
		tok := z.Token()
		switch tt {
		case xhtml.TextToken:
			if f.skip == "" {
				f.out.WriteString(html.EscapeString(tok.Data))
			}
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			f.start(tok, raw, at)
		case xhtml.EndTagToken:
			f.end(tok.Data, at)
		case xhtml.DoctypeToken:
			f.notes.add(RuleRawHTML, at, "raw HTML: dropped a <!DOCTYPE>: a page body is not a document", rawHTMLFix)
		}
		// Comments are dropped without a word: they are not shown anyway.
	}
	return append([]byte(nil), f.out.Bytes()...)
}

func (f *htmlFilter) start(tok xhtml.Token, raw string, at int) {
	name := tok.Data
	if f.skip != "" {
		if name == f.skip {
			f.skipDepth++
		}
		return
	}
	if len(f.stack) >= maxDepth {
		if !f.deepNoted {
			f.deepNoted = true
			f.notes.add(RuleRawHTML, at, fmt.Sprintf("raw HTML nests deeper than %d elements; the tags deeper than that are dropped, their text is kept", maxDepth), rawHTMLFix)
		}
		if !voids[name] {
			f.deep++
		}
		return
	}
	// A new <li> ends the open one, as a browser reads it.
	if top := len(f.stack) - 1; top >= 0 && siblingEnds[name] != "" && siblingEnds[f.stack[top].name] == siblingEnds[name] {
		f.closeOne(f.stack[top], "")
		f.stack = f.stack[:top]
	}
	k := sanitizeTag(raw)
	clean, kept := k.clean, k.attrs
	if clean == "" {
		f.notes.add(RuleRawHTML, at, "raw HTML: dropped <"+name+">"+whyDropped(name, tok.Attr), rawHTMLFix)
		if dropContent[name] {
			f.skip, f.skipDepth = name, 1
		} else if !voids[name] {
			f.stack = append(f.stack, open{name: name, off: at})
		}
		return
	}
	var dropped []string
	for _, a := range tok.Attr {
		if _, ok := kept[a.Key]; !ok {
			dropped = append(dropped, describeAttr(name, a))
		}
	}
	if len(dropped) > 0 {
		f.notes.add(RuleRawHTML, at, "raw HTML: dropped "+strings.Join(dropped, ", ")+" from <"+name+">", rawHTMLFix)
	}
	if u, ok := kept[urlAttr(name)]; ok {
		f.notes.link(u, at)
	}
	if !voids[name] {
		// <b/> opens a <b> to a browser: written so, it reads the same to
		// every reader.
		if c, ok := strings.CutSuffix(clean, "/>"); ok {
			clean = c + ">"
		}
	}
	f.out.WriteString(clean)
	if !voids[name] {
		f.stack = append(f.stack, open{name: name, kept: true, off: at})
	}
}

func (f *htmlFilter) end(name string, at int) {
	if f.skip != "" {
		if name == f.skip {
			if f.skipDepth--; f.skipDepth == 0 {
				f.skip = ""
			}
		}
		return
	}
	if voids[name] {
		if name == "br" { // </br> is a line break to every browser
			f.out.WriteString("<br/>")
		}
		return
	}
	if f.deep > 0 { // the stack stays bounded: an end tag this deep ends one of those dropped
		f.deep--
		return
	}
	i := len(f.stack) - 1
	for i >= 0 && f.stack[i].name != name {
		i--
	}
	if i < 0 {
		f.notes.add(RuleRawHTML, at, "raw HTML: dropped </"+name+">: it closes no <"+name+"> opened in this page's HTML", rawHTMLFix)
		return
	}
	for j := len(f.stack) - 1; j > i; j-- {
		f.closeOne(f.stack[j], "before </"+name+">")
	}
	if f.stack[i].kept {
		f.out.WriteString("</" + name + ">")
	}
	f.stack = f.stack[:i]
}

// closeOne closes an element the writer left open.
func (f *htmlFilter) closeOne(o open, where string) {
	if !o.kept {
		return
	}
	f.out.WriteString("</" + o.name + ">")
	if !optionalEnd[o.name] {
		f.notes.add(RuleRawHTML, o.off, "raw HTML: <"+o.name+"> is not closed; it is closed "+where, "write </"+o.name+"> where the element ends")
	}
}

// closeAll closes what is still open at the end of the body, with one
// finding at the outermost element left open.
func (f *htmlFilter) closeAll() []byte {
	f.out.Reset()
	var unclosed []open
	for j := len(f.stack) - 1; j >= 0; j-- {
		if o := f.stack[j]; o.kept {
			f.out.WriteString("</" + o.name + ">")
			if !optionalEnd[o.name] {
				unclosed = append(unclosed, o)
			}
		}
	}
	if n := len(unclosed); n > 0 {
		o, inside := unclosed[n-1], ""
		switch {
		case n == 2:
			inside = " (nor the element inside it)"
		case n > 2:
			inside = fmt.Sprintf(" (nor the %d elements inside it)", n-1)
		}
		f.notes.add(RuleRawHTML, o.off, "raw HTML: <"+o.name+"> is not closed"+inside+"; it is closed at the end of the page", "write </"+o.name+"> where the element ends")
	}
	f.stack, f.deep = nil, 0
	if f.out.Len() == 0 {
		return nil
	}
	f.out.WriteByte('\n')
	return append([]byte(nil), f.out.Bytes()...)
}

// attrsOf reads the attributes of the one tag in s.
func attrsOf(s string) []xhtml.Attribute {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	z.Next()
	return z.Token().Attr
}

// urlAttr is the attribute holding the link or image an element points to.
func urlAttr(name string) string {
	switch name {
	case "a":
		return "href"
	case "img":
		return "src"
	}
	return ""
}

func whyDropped(name string, attrs []xhtml.Attribute) string {
	for _, a := range attrs {
		if a.Key == urlAttr(name) {
			return ", keeping its text: " + describeAttr(name, a)
		}
	}
	switch name {
	case "script", "noscript":
		return " and its content: scripts never run in runbooks"
	case "style":
		return " and its content: pages keep the site's styles"
	case "iframe", "object", "embed", "frameset", "frame":
		return ": embedded pages and plugins are not shown"
	case "a":
		return ": it has no safe href (http, https, mailto or relative)"
	case "img":
		return ": it has no relative or https src"
	}
	if dropContent[name] {
		return " and its content: it is not on the allowlist"
	}
	return ": it is not on the allowlist; its text is kept"
}

// describeAttr names a dropped attribute and why it went.
func describeAttr(el string, a xhtml.Attribute) string {
	val := a.Val
	if len(val) > 40 {
		val = val[:37] + "..."
	}
	what := a.Key + "=" + fmt.Sprintf("%q", val)
	switch {
	case strings.HasPrefix(a.Key, "on"):
		return what + " (event handlers never run)"
	case a.Key == "style":
		return what + " (inline styles)"
	case a.Key == urlAttr(el):
		scheme, _, found := strings.Cut(strings.ToLower(strings.TrimSpace(a.Val)), ":")
		switch {
		case el == "img" && (scheme == "http" || scheme == "https"):
			return what + " (images load over https or from the site)"
		case found && !strings.ContainsAny(scheme, "/?#"):
			return what + " (" + scheme + ": URLs are not allowed)"
		}
		return what + " (not a URL the page may load)"
	}
	return what + " (not allowed on <" + el + ">)"
}
