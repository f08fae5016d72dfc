package markdown

import (
	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// A table wider than the text column scrolls sideways inside it, as on
// GitHub, rather than being cut off or squeezed until its cells break
// mid-word: each table sits in a scroll container the keyboard can reach.

var kindTableScroll = ast.NewNodeKind("TableScroll")

type tableScroll struct{ ast.BaseBlock }

func (n *tableScroll) Kind() ast.NodeKind         { return kindTableScroll }
func (n *tableScroll) Dump(src []byte, level int) { ast.DumpHelper(n, src, level, nil, nil) }

// scrollTables puts each table in a tableScroll.
type scrollTables struct{}

func (scrollTables) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	var tables []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && n.Kind() == east.KindTable {
			tables = append(tables, n)
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	for _, t := range tables {
		wrap := &tableScroll{}
		t.Parent().ReplaceChild(t.Parent(), t, wrap)
		wrap.AppendChild(wrap, t)
	}
}

func (r *nodeRenderer) tableScroll(w util.BufWriter, _ []byte, _ ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		_, _ = w.WriteString(`<div class="table-scroll" tabindex="0" role="region" aria-label="Table">` + "\n")
	} else {
		_, _ = w.WriteString("</div>\n")
	}
	return ast.WalkContinue, nil
}
