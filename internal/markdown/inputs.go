package markdown

import (
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// placeholder is an input written in a command: {{ .namespace }}. A dotted
// path ({{ .Values.image }}) is another tool's template, not an input.
var placeholder = regexp.MustCompile(`\{\{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}`)

// templateLangs are code block languages whose {{ }} belong to another
// template engine (a Helm chart, a Jinja file): shown as written, never
// filled, never reported.
var templateLangs = map[string]bool{
	"gotmpl": true, "go-template": true, "go-text-template": true, "go-html-template": true,
	"helm": true, "tmpl": true, "jinja": true, "jinja2": true, "django": true,
	"handlebars": true, "hbs": true, "mustache": true, "liquid": true, "twig": true,
}

// Placeholder is one {{ .name }} in a code block of a body, at its 1-based
// line and column (in characters) in the body.
type Placeholder struct {
	Name      string
	Line, Col int
}

// scanParser finds code blocks without rendering; a goldmark parser is safe
// for concurrent use.
var scanParser = goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser()

// Placeholders lists the input placeholders of a body's code blocks, in
// order, for check to hold them against the declared inputs.
func Placeholders(body []byte) []Placeholder {
	if !strings.Contains(string(body), "{{") {
		return nil
	}
	var out []Placeholder
	lines := lineIndex(body)
	doc := scanParser.Parse(text.NewReader(body))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind() {
		case ast.KindFencedCodeBlock, ast.KindCodeBlock:
		default:
			return ast.WalkContinue, nil
		}
		if templateLangs[codeLang(n, body)] {
			return ast.WalkSkipChildren, nil
		}
		for i := 0; i < n.Lines().Len(); i++ {
			seg := n.Lines().At(i)
			val := seg.Value(body)
			for _, m := range placeholder.FindAllSubmatchIndex(val, -1) {
				off := seg.Start + m[0]
				line := lines.of(off)
				// A block line's segment may start inside its indentation;
				// the column counts from the file line's start.
				col := utf8.RuneCount(body[lines[line-1]:off]) + 1
				out = append(out, Placeholder{Name: string(val[m[2]:m[3]]), Line: line, Col: col})
			}
		}
		return ast.WalkSkipChildren, nil
	})
	return out
}

func codeLang(n ast.Node, src []byte) string {
	if f, ok := n.(*ast.FencedCodeBlock); ok && f.Info != nil {
		return strings.ToLower(strings.Fields(string(f.Info.Value(src)) + " ")[0])
	}
	return ""
}

// filled is a code block whose placeholders are taken out before it is
// highlighted and put back after, as elements the page's script fills.
// A lexer would otherwise split "{{ .namespace }}" into punctuation and
// names, and no one element could hold the value.
type filled struct {
	names []string
	marks []string
}

// markInputs swaps each placeholder of code for a word no lexer splits.
func markInputs(lang, code string) (string, *filled) {
	if templateLangs[lang] || !strings.Contains(code, "{{") {
		return code, nil
	}
	f := &filled{}
	out := placeholder.ReplaceAllStringFunc(code, func(m string) string {
		mark := "zzrbinput" + strconv.Itoa(len(f.marks)) + "zz"
		f.names = append(f.names, placeholder.FindStringSubmatch(m)[1])
		f.marks = append(f.marks, m)
		return mark
	})
	if len(f.marks) == 0 {
		return code, nil
	}
	return out, f
}

// restore puts the placeholders back into highlighted HTML as
// <span class="input" data-input="name">{{ .name }}</span>: with no script
// the command reads as written. ok is false when a lexer did split a mark;
// the caller then shows the block unhighlighted.
func (f *filled) restore(highlighted string) (string, bool) {
	for i := range f.marks {
		mark := "zzrbinput" + strconv.Itoa(i) + "zz"
		if strings.Count(highlighted, mark) != 1 {
			return "", false
		}
		highlighted = strings.Replace(highlighted, mark, f.span(i), 1)
	}
	return highlighted, true
}

func (f *filled) span(i int) string {
	return `<span class="input" data-input="` + f.names[i] + `">` + html.EscapeString(f.marks[i]) + `</span>`
}

// plain is the block unhighlighted, with its placeholders as elements.
func (f *filled) plain(code string) string {
	var b strings.Builder
	last, i := 0, 0
	for _, m := range placeholder.FindAllStringIndex(code, -1) {
		b.WriteString(html.EscapeString(code[last:m[0]]))
		b.WriteString(f.span(i))
		last, i = m[1], i+1
	}
	b.WriteString(html.EscapeString(code[last:]))
	return b.String()
}

// inputsAttr lists a block's inputs once each, for the page's form.
func (f *filled) inputsAttr() string {
	seen := map[string]bool{}
	var names []string
	for _, n := range f.names {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return strings.Join(names, " ")
}

// highlightInputs highlights a code block with its placeholders kept
// whole, and says which inputs it holds ("" for none).
func (b *blocks) highlightInputs(lang, code string) (out, inputs string) {
	marked, f := markInputs(lang, code)
	if f == nil {
		return b.highlight(lang, code), ""
	}
	if out, ok := f.restore(b.highlight(lang, marked)); ok {
		return out, f.inputsAttr()
	}
	return f.plain(code), f.inputsAttr()
}
