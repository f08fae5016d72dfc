package markdown

import (
	"html"

	"github.com/yuin/goldmark/ast"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/util"
)

// taskBox renders a task-list item's box (- [ ] …) as a check box the
// page's script enables and keeps the state of (go/no-go lists, rollback
// steps). Without the script it stays disabled, as GitHub shows it. The
// item's text is its accessible name: the box sits beside the text, not
// in a label element, since the item may hold links and code.
func (r *nodeRenderer) taskBox(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	box := n.(*extast.TaskCheckBox)
	_, _ = w.WriteString(`<input type="checkbox" class="task" disabled`)
	if box.IsChecked {
		_, _ = w.WriteString(` checked`)
	}
	if p := n.Parent(); p != nil {
		if label := nodeText(p, src); label != "" {
			_, _ = w.WriteString(` aria-label="` + html.EscapeString(label) + `"`)
		}
	}
	_, _ = w.WriteString(`> `)
	return ast.WalkContinue, nil
}
