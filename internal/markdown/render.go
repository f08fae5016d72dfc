package markdown

import (
	"bytes"
	"html"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/alecthomas/chroma/v2"
	chtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// nodeRenderer overrides goldmark's rendering of code blocks (highlighted,
// labelled, with a copy button), headings (with an anchor link) and raw
// HTML (escaped unless unsafe).
type nodeRenderer struct {
	unsafe bool
}

func (r *nodeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, r.code)
	reg.Register(ast.KindCodeBlock, r.code)
	reg.Register(ast.KindHeading, r.heading)
	if !r.unsafe {
		reg.Register(ast.KindHTMLBlock, r.htmlBlock)
		reg.Register(ast.KindRawHTML, r.rawHTML)
	}
}

var formatter = chtml.New(chtml.WithClasses(true), chtml.PreventSurroundingPre(true))

func (r *nodeRenderer) code(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	lang := ""
	if f, ok := n.(*ast.FencedCodeBlock); ok && f.Info != nil {
		lang = strings.ToLower(strings.Fields(string(f.Info.Value(src)) + " ")[0])
	}
	var code bytes.Buffer
	for i := 0; i < n.Lines().Len(); i++ {
		seg := n.Lines().At(i)
		code.Write(seg.Value(src))
	}
	label := lang
	if label == "" {
		label = "text"
	}
	_, _ = w.WriteString(`<div class="code"><div class="code-head"><span class="lang">`)
	_, _ = w.WriteString(html.EscapeString(label))
	_, _ = w.WriteString(`</span><button type="button" class="copy" data-copy aria-label="Copy code">Copy</button></div><pre class="chroma"><code`)
	if lang != "" {
		_, _ = w.WriteString(` class="language-` + html.EscapeString(lang) + `"`)
	}
	_ = w.WriteByte('>')
	_, _ = w.WriteString(highlight(lang, code.String()))
	_, _ = w.WriteString("</code></pre></div>\n")
	return ast.WalkSkipChildren, nil
}

// highlighted caches highlighted blocks: runbooks repeat the same commands
// across many plans, and chroma's regular expressions dominate render time.
var highlighted sync.Map // key: lang + "\x00" + code

// highlightCacheMax bounds the cache; past it blocks are highlighted anew.
const highlightCacheMax = 50000

var highlightCount atomic.Int64

func highlight(lang, code string) string {
	key := lang + "\x00" + code
	if v, ok := highlighted.Load(key); ok {
		return v.(string)
	}
	out := html.EscapeString(code)
	if lexer := lexerFor(lang); lexer != nil {
		if it, err := lexer.Tokenise(nil, code); err == nil {
			var buf bytes.Buffer
			if err := formatter.Format(&buf, styles.Fallback, it); err == nil {
				out = buf.String()
			}
		}
	}
	if highlightCount.Load() < highlightCacheMax {
		if _, loaded := highlighted.LoadOrStore(key, out); !loaded {
			highlightCount.Add(1)
		}
	}
	return out
}

func lexerFor(lang string) chroma.Lexer {
	if lang == "" {
		return nil
	}
	l := lexers.Get(lang)
	if l == nil {
		return nil
	}
	return chroma.Coalesce(l)
}

func (r *nodeRenderer) heading(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Heading)
	tag := "h" + string(rune('0'+n.Level))
	if entering {
		_, _ = w.WriteString("<" + tag)
		id, hasID := n.AttributeString("id")
		if hasID {
			_, _ = w.WriteString(` id="`)
			_, _ = w.Write(util.EscapeHTML(id.([]byte)))
			_ = w.WriteByte('"')
		}
		_ = w.WriteByte('>')
		return ast.WalkContinue, nil
	}
	if id, ok := n.AttributeString("id"); ok {
		_, _ = w.WriteString(` <a class="anchor" href="#`)
		_, _ = w.Write(util.EscapeHTML(id.([]byte)))
		_, _ = w.WriteString(`" aria-label="Link to this section">#</a>`)
	}
	_, _ = w.WriteString("</" + tag + ">\n")
	return ast.WalkContinue, nil
}

func (r *nodeRenderer) htmlBlock(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	n := node.(*ast.HTMLBlock)
	_, _ = w.WriteString(`<p class="raw-html">`)
	for i := 0; i < n.Lines().Len(); i++ {
		seg := n.Lines().At(i)
		_, _ = w.Write(util.EscapeHTML(seg.Value(src)))
	}
	if n.HasClosure() {
		_, _ = w.Write(util.EscapeHTML(n.ClosureLine.Value(src)))
	}
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

func (r *nodeRenderer) rawHTML(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	n := node.(*ast.RawHTML)
	for i := 0; i < n.Segments.Len(); i++ {
		seg := n.Segments.At(i)
		_, _ = w.Write(util.EscapeHTML(seg.Value(src)))
	}
	return ast.WalkSkipChildren, nil
}
