package markdown

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"html"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Diagrams: a ```mermaid block is shown as its source, labelled, with a
// link that opens it drawn in the diagram's own editor, and a diagram
// finding says it is not drawn. Drawing it needs mermaid's script, which
// no Go module the build can use ships (see ARCHITECTURE.md).

// diagram is a diagram language rollbook shows as source.
type diagram struct {
	name string
	// editor is a URL that opens the source in an online editor.
	editor func(code []byte) string
}

// diagrams is the one table of diagram languages, by fence info.
var diagrams = map[string]diagram{
	"mermaid": {name: "Mermaid", editor: mermaidLive},
}

// mermaidLive is the Mermaid Live Editor's URL for code: its state as
// JSON, zlib-compressed and base64url-encoded after #pako:, as the editor
// writes its own links.
func mermaidLive(code []byte) string {
	state, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Mermaid string `json:"mermaid"`
	}{string(code), `{"theme":"default"}`})
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = w.Write(state)
	_ = w.Close()
	return "https://mermaid.live/edit#pako:" + base64.RawURLEncoding.EncodeToString(z.Bytes())
}

// fenceLang is a fenced block's language: the first word of its info
// string, lower case.
func fenceLang(f *ast.FencedCodeBlock, src []byte) string {
	if f.Info == nil {
		return ""
	}
	return strings.ToLower(strings.Fields(string(f.Info.Value(src)) + " ")[0])
}

func (r *nodeRenderer) diagram(w util.BufWriter, d diagram, code []byte) (ast.WalkStatus, error) {
	_, _ = w.WriteString(`<figure class="code diagram"><figcaption class="code-head"><span class="lang">` + d.name +
		` diagram · source, not drawn</span><span class="diagram-actions"><a href="` + html.EscapeString(d.editor(code)) +
		`" target="_blank" rel="noopener noreferrer">Open in the ` + d.name + ` editor</a>` +
		`<button type="button" class="copy" data-copy aria-label="Copy diagram source">Copy</button></span></figcaption>` +
		`<pre><code class="language-` + strings.ToLower(d.name) + `">`)
	_, _ = w.WriteString(html.EscapeString(string(code)))
	_, _ = w.WriteString("</code></pre></figure>\n")
	return ast.WalkSkipChildren, nil
}

// diagramNotes gives each diagram block its finding, at its fence.
type diagramNotes struct{}

func (diagramNotes) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	src := reader.Source()
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		f, ok := n.(*ast.FencedCodeBlock)
		if !ok || !entering {
			return ast.WalkContinue, nil
		}
		if d, ok := diagrams[fenceLang(f, src)]; ok {
			// The fence is on the info string's line, before it.
			off := f.Info.Segment.Start
			for off > 0 && src[off-1] != '\n' && (src[off-1] == '`' || src[off-1] == '~' || src[off-1] == ' ') {
				off--
			}
			for off < f.Info.Segment.Start && src[off] == ' ' {
				off++
			}
			notesOf(pc).add(RuleDiagram, off, d.name+" diagram shown as its source, not drawn: rollbook has no "+d.name+" renderer",
				"readers open it drawn with the page's \"Open in the "+d.name+" editor\" link; to show it drawn on the page, export it as SVG beside the page and link it: ![what it shows](diagram.svg)")
		}
		return ast.WalkSkipChildren, nil
	})
}
