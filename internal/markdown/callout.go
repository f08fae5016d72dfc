package markdown

import (
	"bytes"
	"html"
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Callouts are the boxes a reader must not miss: GitHub's alerts
// (> [!WARNING]) and MkDocs' admonitions (!!! danger "Title", and the
// collapsible ??? note), rendered alike.

// tone is how a callout looks: its colour and icon.
type tone string

const (
	toneNote      tone = "note"
	toneTip       tone = "tip"
	toneImportant tone = "important"
	toneWarning   tone = "warning"
	toneCaution   tone = "caution"
)

// calloutTones is the one table of callout kinds: GitHub's five alerts
// and MkDocs' admonition types (with their aliases), each to its tone. A
// kind not here is an MkDocs custom type, shown as a note.
var calloutTones = map[string]tone{
	"note": toneNote, "abstract": toneNote, "summary": toneNote, "tldr": toneNote, "info": toneNote, "todo": toneNote,
	"example": toneNote, "quote": toneNote, "cite": toneNote,
	"tip": toneTip, "hint": toneTip, "success": toneTip, "check": toneTip, "done": toneTip,
	"important": toneImportant, "question": toneImportant, "help": toneImportant, "faq": toneImportant,
	"warning": toneWarning, "attention": toneWarning,
	"caution": toneCaution, "danger": toneCaution, "error": toneCaution, "failure": toneCaution, "fail": toneCaution,
	"missing": toneCaution, "bug": toneCaution,
}

// toneIcons are 16×16 outline icons, drawn in the callout's colour.
var toneIcons = map[tone]string{
	toneNote:      `<circle cx="8" cy="8" r="6.5"/><path d="M8 7.2v4M8 4.6v.2"/>`,
	toneTip:       `<path d="M5.5 10.5a4.5 4.5 0 1 1 5 0V12h-5z"/><path d="M6 14.2h4"/>`,
	toneImportant: `<path d="M2 3h12v8H7l-3 3v-3H2z"/><path d="M8 5v3M8 9.6v.2"/>`,
	toneWarning:   `<path d="M8 1.8 15 14H1z"/><path d="M8 6v4M8 11.8v.2"/>`,
	toneCaution:   `<path d="M5.2 1.5h5.6l3.7 3.7v5.6l-3.7 3.7H5.2l-3.7-3.7V5.2z"/><path d="M8 4.5v4.5M8 11v.2"/>`,
}

// fold says whether a callout collapses: MkDocs' ??? is closed until
// clicked, ???+ open.
type fold int

const (
	noFold fold = iota
	folded
	unfolded
)

// KindCallout is the AST kind of a callout.
var KindCallout = ast.NewNodeKind("Callout")

// Callout is a GitHub alert or an MkDocs admonition.
type Callout struct {
	ast.BaseBlock
	Name  string // as written, lower case: warning, danger, note, ...
	Title string // as written, or the type capitalised
	fold  fold
}

func (n *Callout) Kind() ast.NodeKind { return KindCallout }

func (n *Callout) Dump(src []byte, level int) {
	ast.DumpHelper(n, src, level, map[string]string{"Name": n.Name, "Title": n.Title}, nil)
}

func newCallout(typ, title string, f fold) *Callout {
	typ = strings.ToLower(typ)
	if title == "" {
		title = strings.ToUpper(typ[:1]) + typ[1:]
	}
	return &Callout{Name: typ, Title: title, fold: f}
}

func (n *Callout) tone() tone {
	if t, ok := calloutTones[n.Name]; ok {
		return t
	}
	return toneNote
}

func (r *nodeRenderer) callout(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*Callout)
	t := n.tone()
	tag, head := "div", "p"
	if n.fold != noFold {
		tag, head = "details", "summary"
	}
	if !entering {
		_, _ = w.WriteString("</" + tag + ">\n")
		return ast.WalkContinue, nil
	}
	_, _ = w.WriteString("<" + tag + ` class="callout callout-` + string(t) + `"`)
	if n.fold == noFold {
		_, _ = w.WriteString(` role="note"`)
	} else if n.fold == unfolded {
		_, _ = w.WriteString(" open")
	}
	_ = w.WriteByte('>')
	if n.Title == "" && n.fold == noFold {
		_ = w.WriteByte('\n')
		return ast.WalkContinue, nil
	}
	title := n.Title
	if title == "" {
		title = newCallout(n.Name, "", noFold).Title
	}
	_, _ = w.WriteString("\n<" + head + ` class="callout-title"><svg class="callout-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">` +
		toneIcons[t] + "</svg>" + html.EscapeString(title) + "</" + head + ">\n")
	return ast.WalkContinue, nil
}

// alertMarker is a GitHub alert's first line.
var alertMarker = regexp.MustCompile(`^\s*\[!(?i:(note|tip|important|warning|caution))\]\s*$`)

// alerts turns a blockquote that opens with [!KIND] into a callout.
type alerts struct{}

func (alerts) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	src := reader.Source()
	var quotes []*ast.Blockquote
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if q, ok := n.(*ast.Blockquote); ok && entering {
			quotes = append(quotes, q)
		}
		return ast.WalkContinue, nil
	})
	for _, q := range quotes {
		p, ok := q.FirstChild().(*ast.Paragraph)
		if !ok || p.Lines().Len() == 0 {
			continue
		}
		first := p.Lines().At(0)
		m := alertMarker.FindSubmatch(first.Value(src))
		if m == nil {
			continue
		}
		c := newCallout(string(m[1]), "", noFold)
		// The marker's inline nodes end within its line.
		for in := p.FirstChild(); in != nil; {
			next := in.NextSibling()
			if t, ok := in.(*ast.Text); !ok || t.Segment.Stop > first.Stop {
				break
			}
			p.RemoveChild(p, in)
			in = next
		}
		if p.ChildCount() == 0 {
			q.RemoveChild(q, p)
		}
		for ch := q.FirstChild(); ch != nil; {
			next := ch.NextSibling()
			c.AppendChild(c, ch)
			ch = next
		}
		q.Parent().ReplaceChild(q.Parent(), q, c)
	}
}

// admonitionLine is MkDocs' admonition opener: !!! type "title", or ???
// (collapsed) and ???+ (expanded).
var admonitionLine = regexp.MustCompile(`^(!!!|\?\?\?\+?)[ \t]+([\w-]+)(?:[ \t]+"([^"]*)")?[ \t]*$`)

// admonitions parses MkDocs' admonitions: the opener, then content
// indented by four spaces.
type admonitions struct{}

func (admonitions) Trigger() []byte { return []byte{'!', '?'} }

func (admonitions) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	line, _ := reader.PeekLine()
	m := admonitionLine.FindSubmatch(bytes.TrimRight(line, "\r\n"))
	if m == nil {
		return nil, parser.NoChildren
	}
	f := noFold
	switch string(m[1]) {
	case "???":
		f = folded
	case "???+":
		f = unfolded
	}
	c := newCallout(string(m[2]), string(m[3]), f)
	if m[3] != nil && len(m[3]) == 0 {
		c.Title = "" // !!! note "" asks for no title
	}
	reader.AdvanceToEOL()
	return c, parser.HasChildren
}

func (admonitions) Continue(node ast.Node, reader text.Reader, pc parser.Context) parser.State {
	line, _ := reader.PeekLine()
	if util.IsBlank(line) {
		reader.AdvanceToEOL()
		return parser.Continue | parser.HasChildren
	}
	if indent, _ := util.IndentWidth(line, reader.LineOffset()); indent < 4 {
		return parser.Close
	}
	pos, padding := util.IndentPosition(line, reader.LineOffset(), 4)
	reader.AdvanceAndSetPadding(pos, padding)
	return parser.Continue | parser.HasChildren
}

func (admonitions) Close(ast.Node, text.Reader, parser.Context) {}
func (admonitions) CanInterruptParagraph() bool                 { return false }
func (admonitions) CanAcceptIndentedLine() bool                 { return false }
