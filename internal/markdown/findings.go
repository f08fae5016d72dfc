package markdown

import (
	"unicode/utf8"

	"github.com/yuin/goldmark/parser"
)

// The rules of the findings a render makes (registered with the others in
// internal/check/rules.go).
const (
	// RuleRawHTML: raw HTML the sanitizer dropped or had to close.
	RuleRawHTML = "raw-html"
	// RuleDiagram: a diagram block shown as its source, not drawn.
	RuleDiagram = "diagram"
)

// Finding is something in a body that its page does not show as written,
// at the file line and column (counted from 1) where it is written.
type Finding struct {
	Rule      string
	Line, Col int
	Message   string
	Fix       string
}

// notes gathers, while a body is parsed, what becomes its findings and
// the links its raw HTML holds, at source offsets: the file lines are
// known only to Render.
type notes struct {
	findings []note
	links    []note
}

type note struct {
	rule     string
	off      int
	msg, fix string
}

var notesKey = parser.NewContextKey()

func notesOf(pc parser.Context) *notes {
	if n, ok := pc.Get(notesKey).(*notes); ok {
		return n
	}
	n := &notes{}
	pc.Set(notesKey, n)
	return n
}

func (n *notes) add(rule string, off int, msg, fix string) {
	n.findings = append(n.findings, note{rule: rule, off: off, msg: msg, fix: fix})
}

func (n *notes) link(dest string, off int) {
	n.links = append(n.links, note{off: off, msg: dest})
}

// place is the file line and column (in characters) of a source offset.
func (ls lineStarts) place(src []byte, off, lineOffset int) (line, col int) {
	off = min(max(off, 0), len(src))
	line = ls.of(off)
	return line + lineOffset, utf8.RuneCount(src[ls[line-1]:off]) + 1
}
