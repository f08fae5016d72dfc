package markdown

import (
	"fmt"
	"os"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"
)

// unsafeIn says what in a rendered body could run, load from an unsafe
// URL or restyle the site, or close an element the body did not open
// (the theme's own): "" when there is nothing.
func unsafeIn(body string) string {
	z := xhtml.NewTokenizer(strings.NewReader(body))
	depth := 0
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			return ""
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "iframe", "style", "object", "embed", "frame", "frameset", "link", "meta", "base", "form":
				return "element <" + tok.Data + ">"
			}
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.Join(strings.Fields(a.Val), ""))
				switch {
				case strings.HasPrefix(a.Key, "on"), a.Key == "style", a.Key == "srcdoc", a.Key == "formaction":
					return fmt.Sprintf("attribute %s on <%s>", a.Key, tok.Data)
				case (a.Key == "href" || a.Key == "src") && (strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:") || strings.HasPrefix(v, "vbscript:")):
					return fmt.Sprintf("URL %s=%q on <%s>", a.Key, a.Val, tok.Data)
				}
			}
			if tt == xhtml.StartTagToken && !voids[tok.Data] {
				depth++
			}
		case xhtml.EndTagToken:
			name, _ := z.TagName()
			if voids[string(name)] {
				continue
			}
			if depth--; depth < 0 {
				return "a closing </" + string(name) + "> of an element the body did not open"
			}
		}
	}
}

// TestSanitizeBadInput: what must not run does not, each is a positioned
// raw-html finding, and the rest of the page renders.
func TestSanitizeBadInput(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		says      string
	}{
		{"script block", "<script>alert(1)</script>\n", 3, 1, "dropped <script> and its content"},
		{"inline script", "Run <script>alert(1)</script> now.\n", 3, 5, "dropped <script>"},
		{"upper-case script", "<SCRIPT SRC=//evil.example/x.js></SCRIPT>\n", 3, 1, "dropped <script>"},
		{"img onerror", "<img src=x onerror=alert(1)>\n", 3, 1, `dropped onerror="alert(1)" (event handlers never run) from <img>`},
		{"javascript href", "See <a href=\"javascript:alert(1)\">this</a>.\n", 3, 5, `href="javascript:alert(1)" (javascript: URLs are not allowed)`},
		{"javascript href with entities", "<a href=\"jav&#x09;ascript:alert(1)\">x</a>\n", 3, 1, "dropped <a>"},
		{"data image", "<img src=\"data:image/svg+xml;base64,PHN2Zz4=\" alt=\"x\">\n", 3, 1, "data: URLs are not allowed"},
		{"iframe", "<iframe src=\"https://example.com\"></iframe>\n", 3, 1, "dropped <iframe>"},
		{"style element", "<style>body{display:none}</style>\n", 3, 1, "dropped <style>"},
		{"style attribute", "<div style=\"position:fixed\">x</div>\n", 3, 1, `dropped style="position:fixed" (inline styles)`},
		{"svg with script", "<svg><script>alert(1)</script></svg>\n", 3, 1, "dropped <svg>"},
		{"unclosed details", "<details>\n<summary>More</summary>\n\nText.\n", 3, 1, "<details> is not closed; it is closed at the end of the page"},
		{"unclosed nested", "<details><summary>a</summary>\n\n<div class=\"x\">\n\nText.\n", 3, 1, "<details> is not closed (nor the element inside it)"},
		{"stray closing tag", "</div></main>\n", 3, 1, "dropped </div>: it closes no <div>"},
		{"deeply nested", strings.Repeat("<div>", 500) + "x" + strings.Repeat("</div>", 500) + "\n", 3, 161, "nests deeper than 32 elements"},
		{"deeply nested details", strings.Repeat("<details><summary>s</summary>\n\n", 100) + "x\n", 65, 10, "nests deeper than 32 elements"},
	}
	r := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "# Page\n\n" + tt.src + "\nThe page still renders.\n"
			res, err := r.Render([]byte(src), 0)
			if err != nil {
				t.Fatal(err)
			}
			body := string(res.HTML)
			if bad := unsafeIn(body); bad != "" {
				t.Errorf("%s survived in\n%s", bad, body)
			}
			if !strings.Contains(body, "The page still renders.") || !strings.Contains(body, `<h1 id="page">`) {
				t.Errorf("the page did not render around it:\n%s", body)
			}
			var found bool
			for _, f := range res.Findings {
				if f.Rule == RuleRawHTML && f.Line == tt.line && f.Col == tt.col && strings.Contains(f.Message, tt.says) && f.Fix != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("no raw-html finding at %d:%d saying %q: %+v", tt.line, tt.col, tt.says, res.Findings)
			}
		})
	}
}

// TestHTMLModes: unsafe_html true passes raw HTML through, escape shows
// it as text, and the default keeps only what is allowed; neither of the
// first two makes findings.
func TestHTMLModes(t *testing.T) {
	src := []byte("<details><summary>More</summary>\n\n<b>bold</b> <script>alert(1)</script>\n\n</details>\n")
	tests := []struct {
		mode       HTMLMode
		want       []string
		wantNot    []string
		findings   int
		configured string
	}{
		{HTMLSanitize, []string{"<details><summary>More</summary>", "<b>bold</b>", "</details>"}, []string{"<script", "&lt;"}, 1, "false"},
		{HTMLUnsafe, []string{"<details><summary>More</summary>", "<b>bold</b> <script>alert(1)</script>"}, []string{"&lt;"}, 0, "true"},
		{HTMLEscape, []string{"&lt;details&gt;", "&lt;b&gt;bold&lt;/b&gt;", "&lt;script&gt;"}, []string{"<details", "<script"}, 0, "escape"},
	}
	for _, tt := range tests {
		t.Run(tt.configured, func(t *testing.T) {
			res, err := New(Options{HTML: tt.mode}).Render(src, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(res.HTML), w) {
					t.Errorf("lacks %s:\n%s", w, res.HTML)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(string(res.HTML), w) {
					t.Errorf("has %s:\n%s", w, res.HTML)
				}
			}
			if len(res.Findings) != tt.findings {
				t.Errorf("findings %+v, want %d", res.Findings, tt.findings)
			}
			if tt.mode.String() != tt.configured {
				t.Errorf("mode says %q, want %q", tt.mode, tt.configured)
			}
		})
	}
}

// TestRawHTMLLinks: links and images in raw HTML are the body's links too,
// at their file lines, so the site checks and rewrites them.
func TestRawHTMLLinks(t *testing.T) {
	src := []byte("Intro\n\n<a href=\"../db/failover.md\">failover</a>\n\n<img src=\"img/graph.png\" alt=\"g\"> <a href=\"javascript:x\">no</a>\n")
	res, err := New(Options{}).Render(src, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []Link{{Dest: "../db/failover.md", Line: 7}, {Dest: "img/graph.png", Line: 9}}
	if fmt.Sprint(res.Links) != fmt.Sprint(want) {
		t.Errorf("links %v, want %v", res.Links, want)
	}
}

// BenchmarkRawHTML renders a body of raw HTML (details, links, images,
// dropped scripts and handlers) in each mode: what the sanitizer costs
// over escaping it or passing it through.
func BenchmarkRawHTML(b *testing.B) {
	var src []byte
	for _, name := range []string{"html-allowed", "html-dropped", "html-nested"} {
		data, err := os.ReadFile("testdata/" + name + ".md")
		if err != nil {
			b.Fatal(err)
		}
		src = append(src, data...)
		src = append(src, '\n')
	}
	for _, mode := range []HTMLMode{HTMLSanitize, HTMLEscape, HTMLUnsafe} {
		b.Run("unsafe_html="+mode.String(), func(b *testing.B) {
			r := New(Options{HTML: mode})
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Render(src, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
