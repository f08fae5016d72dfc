package check

import (
	"bytes"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/rollbook/rollbook/internal/buildcache"
)

// outline is the part of a plan body the checks read: its headings and,
// under each, the list items and whether backups and commands are mentioned.
type outline struct {
	Headings []heading
}

type heading struct {
	Text  string
	Level int
	Line  int
	// Items are the top-level list items of the section (up to the next
	// heading of the same or a higher level).
	Items []item
	// Body is the plain text of the section, lower-cased.
	Body string
	// HasCode is true when the section holds inline code or a code block.
	HasCode bool
}

type item struct {
	Line    int
	Text    string
	HasCode bool
}

var mdParser = goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser()

// outlineKind names outlines in a Memo; a change to outline or to
// parseOutline changes it.
const outlineKind = "check-outline/2"

// memoOutline is parseOutline through m: a damaged entry is parsed again.
func memoOutline(m Memo, body []byte, firstLine int) outline {
	if m == nil {
		return parseOutline(body, firstLine)
	}
	line := []byte(strconv.Itoa(firstLine))
	if data, ok := m.Get(outlineKind, line, body); ok {
		if o, err := decodeOutline(data); err == nil {
			return o
		}
	}
	o := parseOutline(body, firstLine)
	m.Put(encodeOutline(o), outlineKind, line, body)
	return o
}

// encodeOutline writes an outline for the memo (JSON cost as much as
// the parse it saves).
func encodeOutline(o outline) []byte {
	var e buildcache.Encoder
	flag := func(b bool) {
		if b {
			e.Int(1)
		} else {
			e.Int(0)
		}
	}
	e.Int(len(o.Headings))
	for _, h := range o.Headings {
		e.String(h.Text)
		e.Int(h.Level)
		e.Int(h.Line)
		e.String(h.Body)
		flag(h.HasCode)
		e.Int(len(h.Items))
		for _, it := range h.Items {
			e.Int(it.Line)
			e.String(it.Text)
			flag(it.HasCode)
		}
	}
	return e.Bytes()
}

func decodeOutline(data []byte) (outline, error) {
	d := buildcache.NewDecoder(data) // a Memo's data is the caller's
	var bad error
	count := func() int {
		n := d.Int()
		if n < 0 || n > len(data) {
			bad = errors.New("check: damaged outline entry")
			return 0
		}
		return n
	}
	var o outline
	if n := count(); n > 0 {
		o.Headings = make([]heading, n)
		for i := range o.Headings {
			h := &o.Headings[i]
			h.Text, h.Level, h.Line, h.Body, h.HasCode = d.String(), d.Int(), d.Int(), d.String(), d.Int() == 1
			if n := count(); n > 0 {
				h.Items = make([]item, n)
				for j := range h.Items {
					h.Items[j] = item{Line: d.Int(), Text: d.String(), HasCode: d.Int() == 1}
				}
			}
		}
	}
	if bad != nil {
		return o, bad
	}
	return o, d.Err()
}

// parseOutline reads the body's structure. firstLine is the file line of
// the body's first byte, so positions refer to the file.
func parseOutline(body []byte, firstLine int) outline {
	doc := mdParser.Parse(text.NewReader(body))
	lineStarts := []int{0}
	for i, c := range body {
		if c == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	lineOf := func(off int) int {
		return sort.Search(len(lineStarts), func(i int) bool { return lineStarts[i] > off }) - 1 + firstLine
	}
	var out outline
	var cur *heading
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if h, ok := n.(*ast.Heading); ok {
			line := firstLine
			if h.Lines().Len() > 0 {
				line = lineOf(h.Lines().At(0).Start)
			}
			out.Headings = append(out.Headings, heading{Text: plainText(h, body), Level: h.Level, Line: line})
			cur = &out.Headings[len(out.Headings)-1]
			continue
		}
		if cur == nil {
			continue
		}
		cur.Body += strings.ToLower(plainText(n, body)) + "\n"
		if hasCode(n) {
			cur.HasCode = true
		}
		if l, ok := n.(*ast.List); ok {
			for li := l.FirstChild(); li != nil; li = li.NextSibling() {
				it := item{Line: lineOf(firstOffset(li)), Text: plainText(li, body), HasCode: hasCode(li)}
				cur.Items = append(cur.Items, it)
			}
		}
	}
	// Give every heading the content of its subsections too, so a
	// "Rollback procedure" with "### Step 1" subheadings is read whole.
	for i := range out.Headings {
		h := &out.Headings[i]
		for j := i + 1; j < len(out.Headings) && out.Headings[j].Level > h.Level; j++ {
			sub := out.Headings[j]
			h.Body += strings.ToLower(sub.Text) + "\n" + sub.Body
			h.HasCode = h.HasCode || sub.HasCode
			if len(sub.Items) > 0 && sub.Level == h.Level+1 {
				// A subsection without a list is itself one step.
				h.Items = append(h.Items, sub.Items...)
			} else if sub.Level == h.Level+1 {
				h.Items = append(h.Items, item{Line: sub.Line, Text: sub.Text + " " + sub.Body, HasCode: sub.HasCode})
			}
		}
	}
	return out
}

func firstOffset(n ast.Node) int {
	for c := n; c != nil; c = c.FirstChild() {
		if c.Type() == ast.TypeBlock && c.Lines().Len() > 0 {
			return c.Lines().At(0).Start
		}
		if t, ok := c.(*ast.Text); ok {
			return t.Segment.Start
		}
	}
	return 0
}

func hasCode(n ast.Node) bool {
	found := false
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		switch c.Kind() {
		case ast.KindCodeSpan, ast.KindFencedCodeBlock, ast.KindCodeBlock:
			found = true
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	return found
}

// plainText returns the text of a node and its children, code included.
func plainText(n ast.Node, src []byte) string {
	var b bytes.Buffer
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			if c.Type() == ast.TypeBlock && b.Len() > 0 {
				b.WriteByte(' ')
			}
			return ast.WalkContinue, nil
		}
		switch v := c.(type) {
		case *ast.Text:
			b.Write(v.Segment.Value(src))
			if v.SoftLineBreak() || v.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(v.Value)
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			for i := 0; i < c.Lines().Len(); i++ {
				seg := c.Lines().At(i)
				b.Write(seg.Value(src))
			}
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return strings.Join(strings.Fields(b.String()), " ")
}
