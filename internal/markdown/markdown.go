// Package markdown owns the render pipeline for plan bodies: Markdown as
// GitHub and GitLab render it (tables, task lists, footnotes, definition
// lists, emoji shortcodes, GitHub alerts and MkDocs admonitions as
// callouts, heading anchors), code highlighted by internal/highlight with
// a language label and a copy button, diagram blocks shown as labelled
// source, and raw HTML through an allowlist (or escaped, or passed
// through, as the site chooses), with a positioned finding for what a page
// does not show as written.
package markdown

import (
	"bytes"
	"html/template"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/yuin/goldmark"
	emoji "github.com/yuin/goldmark-emoji"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Options configures a Renderer.
type Options struct {
	// HTML is what raw HTML in Markdown becomes: sanitized (the zero
	// value), passed through or escaped.
	HTML HTMLMode
}

// Heading is one heading of a rendered body.
type Heading struct {
	Level int
	ID    string
	Text  string
}

// Link is a link or image destination with the file line it was written on.
type Link struct {
	Dest string
	Line int
}

// Result is a rendered body.
type Result struct {
	HTML     template.HTML
	Headings []Heading
	Links    []Link
	Title    string // text of the first level-1 heading, if any
	Words    int
	// Findings are what the body holds that the page does not show as
	// written: raw HTML dropped, diagrams not drawn.
	Findings []Finding
	// Unstable: a code block may be highlighted otherwise by another
	// build (chroma's time limit may have cut a match short on a loaded
	// machine); the result is right to show but not to keep.
	Unstable bool
}

// Renderer renders Markdown bodies; it is safe for concurrent use.
type Renderer struct {
	md    goldmark.Markdown
	nodes *nodeRenderer
}

// New builds a renderer.
func New(opts Options) *Renderer {
	nodes := &nodeRenderer{html: opts.HTML, blocks: &blocks{cur: map[blockKey]string{}}}
	rendererOpts := []renderer.Option{
		html.WithXHTML(),
		renderer.WithNodeRenderers(util.Prioritized(nodes, 100)),
	}
	transformers := []util.PrioritizedValue{util.Prioritized(alerts{}, 100), util.Prioritized(diagramNotes{}, 100), util.Prioritized(scrollTables{}, 100)}
	switch opts.HTML {
	case HTMLUnsafe:
		rendererOpts = append(rendererOpts, html.WithUnsafe())
	case HTMLSanitize:
		transformers = append(transformers, util.Prioritized(sanitizer{}, 1000))
	}
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM, extension.Footnote, extension.DefinitionList,
			emoji.New(emoji.WithRenderingMethod(emoji.Unicode))),
		goldmark.WithParserOptions(parser.WithAutoHeadingID(),
			parser.WithHeadingAttribute(), // {#id} pins a heading's id
			parser.WithBlockParsers(util.Prioritized(admonitions{}, 750)),
			parser.WithASTTransformers(transformers...)),
		goldmark.WithRendererOptions(rendererOpts...),
	)
	return &Renderer{md: md, nodes: nodes}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Render renders a body. lineOffset is the number of file lines before the
// body (the front matter), so that link lines are file lines.
func (r *Renderer) Render(src []byte, lineOffset int) (Result, error) {
	unstable := r.nodes.blocks.unstable.Load()
	ctx := parser.NewContext(parser.WithIDs(newIDs()))
	doc := r.md.Parser().Parse(text.NewReader(src), parser.WithContext(ctx))
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := r.md.Renderer().Render(buf, src, doc); err != nil {
		return Result{}, err
	}
	// Another render's unstable block counts too: the result is then only
	// not kept, which is never wrong.
	res := Result{HTML: template.HTML(buf.String()), Unstable: r.nodes.blocks.unstable.Load() != unstable}
	lines := lineIndex(src)
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch v := n.(type) {
		case *ast.Heading:
			h := Heading{Level: v.Level, Text: nodeText(v, src)}
			if id, ok := v.AttributeString("id"); ok {
				if b, ok := id.([]byte); ok {
					h.ID = string(b)
				}
			}
			if v.Level == 1 && res.Title == "" {
				res.Title = h.Text
			}
			res.Headings = append(res.Headings, h)
		case *ast.Link:
			res.Links = append(res.Links, Link{Dest: string(v.Destination), Line: lines.of(inlineOffset(v)) + lineOffset})
		case *ast.Image:
			res.Links = append(res.Links, Link{Dest: string(v.Destination), Line: lines.of(inlineOffset(v)) + lineOffset})
		case *ast.Text:
			res.Words += countWords(v.Segment.Value(src))
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	// Raw HTML's links and the findings are known by source offset.
	ns := notesOf(ctx)
	for _, l := range ns.links {
		line, _ := lines.place(src, l.off, lineOffset)
		res.Links = append(res.Links, Link{Dest: l.msg, Line: line})
	}
	for _, f := range ns.findings {
		line, col := lines.place(src, f.off, lineOffset)
		res.Findings = append(res.Findings, Finding{Rule: f.rule, Line: line, Col: col, Message: f.msg, Fix: f.fix})
	}
	return res, nil
}

type lineStarts []int

func lineIndex(src []byte) lineStarts {
	ls := lineStarts{0}
	for i, c := range src {
		if c == '\n' {
			ls = append(ls, i+1)
		}
	}
	return ls
}

// of returns the 1-based line of a byte offset.
func (ls lineStarts) of(off int) int {
	return sort.Search(len(ls), func(i int) bool { return ls[i] > off })
}

// inlineOffset finds a source offset for an inline node: its first text
// segment, or the first line of the block holding it.
func inlineOffset(n ast.Node) int {
	off := -1
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			off = t.Segment.Start
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	if off >= 0 {
		return off
	}
	for p := n.Parent(); p != nil; p = p.Parent() {
		if p.Type() == ast.TypeBlock && p.Lines().Len() > 0 {
			return p.Lines().At(0).Start
		}
	}
	return 0
}

func countWords(b []byte) int {
	n, in := 0, false
	for _, r := range string(b) {
		if unicode.IsSpace(r) {
			in = false
		} else if !in {
			in = true
			n++
		}
	}
	return n
}

// nodeText returns the plain text of an inline tree.
func nodeText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch v := c.(type) {
		case *ast.Text:
			b.Write(v.Segment.Value(src))
			if v.SoftLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(v.Value)
		case *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return strings.TrimSpace(b.String())
}

// ids makes GitHub-style heading IDs, unique within one body.
type ids struct{ used map[string]bool }

func newIDs() *ids { return &ids{used: map[string]bool{}} }

func (s *ids) Generate(value []byte, _ ast.NodeKind) []byte {
	base := Slug(string(value))
	if base == "" {
		base = "section"
	}
	id := base
	for n := 1; s.used[id]; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	s.used[id] = true
	return []byte(id)
}

func (s *ids) Put(value []byte) { s.used[string(value)] = true }

// Slug turns heading text into an ID the way GitHub does: lower case,
// letters, digits, '-' and '_' kept, spaces to '-', the rest dropped.
func Slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		case r > 127 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		}
	}
	return b.String()
}
