package markdown

import (
	"bytes"
	"html"
	"sync"
	"sync/atomic"

	"github.com/yuin/goldmark/ast"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"

	"github.com/rollbook/rollbook/internal/highlight"
)

// nodeRenderer overrides goldmark's rendering of code blocks (highlighted,
// labelled, with a copy button; diagrams as labelled source), headings
// (with an anchor link) and raw HTML (sanitized, escaped or passed
// through), and renders callouts.
type nodeRenderer struct {
	html   HTMLMode
	blocks *blocks
}

func (r *nodeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, r.code)
	reg.Register(ast.KindCodeBlock, r.code)
	reg.Register(ast.KindHeading, r.heading)
	reg.Register(extast.KindTaskCheckBox, r.taskBox) // tasks.go
	reg.Register(KindCallout, r.callout)
	reg.Register(kindTableScroll, r.tableScroll)
	registerSafeHTML(reg, r)
	if r.html == HTMLEscape {
		reg.Register(ast.KindHTMLBlock, r.htmlBlock)
		reg.Register(ast.KindRawHTML, r.rawHTML)
	}
}

func (r *nodeRenderer) code(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	lang := ""
	if f, ok := n.(*ast.FencedCodeBlock); ok && f.Info != nil {
		lang = fenceLang(f, src)
	}
	var code bytes.Buffer
	for i := 0; i < n.Lines().Len(); i++ {
		seg := n.Lines().At(i)
		code.Write(seg.Value(src))
	}
	if d, ok := diagrams[lang]; ok {
		return r.diagram(w, d, code.Bytes())
	}
	label := lang
	if label == "" {
		label = "text"
	}
	highlighted, inputs := r.blocks.highlightInputs(lang, code.String()) // inputs.go
	_, _ = w.WriteString(`<div class="code"`)
	if inputs != "" {
		_, _ = w.WriteString(` data-inputs="` + inputs + `"`)
	}
	_, _ = w.WriteString(`><div class="code-head"><span class="lang">`)
	_, _ = w.WriteString(html.EscapeString(label))
	_, _ = w.WriteString(`</span><button type="button" class="copy" data-copy aria-label="Copy code">Copy</button></div><pre class="chroma"><code`)
	if lang != "" {
		_, _ = w.WriteString(` class="language-` + html.EscapeString(lang) + `"`)
	}
	_ = w.WriteByte('>')
	_, _ = w.WriteString(highlighted)
	_, _ = w.WriteString("</code></pre></div>\n")
	return ast.WalkSkipChildren, nil
}

// blocks highlights each distinct (language, code) once per build: runbooks
// repeat the same commands across many plans, and highlighting is most
// of what rendering costs. What one build used is kept for the next
// (rollbook serve); the store, when set, keeps blocks between runs.
type blocks struct {
	mu        sync.RWMutex
	cur, prev map[blockKey]string
	store     BlockStore
	hl        highlight.Highlighter
	// unstable counts blocks highlighted without a guarantee that
	// chroma's time limit did not cut a match short (Highlighter.HTML).
	unstable atomic.Int64
}

type blockKey struct{ lang, code string }

// BlockStore keeps highlighted blocks between builds: the persistent build
// cache.
type BlockStore interface {
	Block(lang, code string) (html string, ok bool)
	StoreBlock(lang, code, html string)
}

// Begin starts a build: blocks it does not use are forgotten at the next
// Begin; store (nil for none) is where blocks persist between runs.
func (r *Renderer) Begin(store BlockStore) {
	b := r.nodes.blocks
	b.mu.Lock()
	b.prev, b.cur, b.store = b.cur, map[blockKey]string{}, store
	b.mu.Unlock()
}

// End ends a build: blocks are no longer read from or added to its store.
func (r *Renderer) End() {
	b := r.nodes.blocks
	b.mu.Lock()
	b.store = nil
	b.mu.Unlock()
}

func (b *blocks) highlight(lang, code string) string {
	k := blockKey{lang, code}
	b.mu.RLock()
	out, ok := b.cur[k]
	if !ok {
		out, ok = b.prev[k]
	}
	store := b.store
	b.mu.RUnlock()
	if !ok && store != nil {
		out, ok = store.Block(lang, code)
	}
	if !ok {
		var stable bool
		for try := 0; try < 3 && !stable; try++ {
			out, stable = b.hl.HTML(lang, code)
		}
		if !stable {
			// Used for this page, kept nowhere: another build may
			// highlight the block as it should be.
			b.unstable.Add(1)
			return out
		}
		if store != nil {
			store.StoreBlock(lang, code, out)
		}
	}
	b.mu.Lock()
	b.cur[k] = out
	b.mu.Unlock()
	return out
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
