package markdown

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/golden"
)

// TestGolden renders each construct with the defaults: the HTML, and the
// findings (file line:col rule: message) beside it.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.md")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	r := New(Options{})
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Render(src, 0)
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(f, ".md")
			golden.Check(t, base+".golden.html", []byte(res.HTML))
			if _, err := os.Stat(base + ".findings.golden"); err == nil || len(res.Findings) > 0 {
				golden.Check(t, base+".findings.golden", []byte(findingLines(res.Findings)))
			}
		})
	}
}

func findingLines(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%d:%d %s: %s; %s\n", f.Line, f.Col, f.Rule, f.Message, f.Fix)
	}
	return b.String()
}

func TestRenderDetails(t *testing.T) {
	src, _ := os.ReadFile("testdata/plan.md")
	res, err := New(Options{HTML: HTMLEscape}).Render(src, 10)
	if err != nil {
		t.Fatal(err)
	}
	html := string(res.HTML)
	tests := []struct {
		name string
		ok   bool
	}{
		{"raw script escaped", strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") && !strings.Contains(html, "<script>")},
		{"inline raw html escaped", strings.Contains(html, "&lt;b&gt;bold&lt;/b&gt;")},
		{"code highlighted with classes", strings.Contains(html, `<pre class="chroma"><code class="language-bash">`) && strings.Contains(html, `<span class="`)},
		{"language label and copy button", strings.Contains(html, `<span class="lang">bash</span><button type="button" class="copy" data-copy`)},
		{"plain block escaped", strings.Contains(html, "plain &lt;text&gt;")},
		{"task list", strings.Contains(html, `type="checkbox"`)},
		{"table", strings.Contains(html, "<table>")},
		{"footnote", strings.Contains(html, "footnote")},
		{"heading anchor", strings.Contains(html, `<h2 id="rollback-procedure">Rollback procedure <a class="anchor" href="#rollback-procedure"`)},
		{"unique heading ids", strings.Contains(html, `id="rollback-procedure-1"`)},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("%s: not found in\n%s", tt.name, html)
		}
	}
	if res.Title != "Payments API canary" || len(res.Headings) != 3 {
		t.Errorf("title %q headings %+v", res.Title, res.Headings)
	}
	if len(res.Links) != 2 || res.Links[0].Dest != "../payments/kill-switch.md#when" || res.Links[0].Line != 16 || res.Links[1].Dest != "diagram.png" {
		t.Errorf("links = %+v", res.Links)
	}
	unsafe, _ := New(Options{HTML: HTMLUnsafe}).Render(src, 0)
	if !strings.Contains(string(unsafe.HTML), "<script>alert(1)</script>") {
		t.Error("UnsafeHTML did not pass raw HTML through")
	}
}

// FuzzRender: whatever the Markdown, nothing in the page can run, load
// from an unsafe URL, restyle the site or close the theme's elements, and
// every finding has its place.
func FuzzRender(f *testing.F) {
	for _, name := range []string{"plan", "html-allowed", "html-dropped", "html-nested", "callouts"} {
		src, err := os.ReadFile("testdata/" + name + ".md")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("<script>x</script>\n\n<SCRIPT src=x>"))
	f.Add([]byte("```\n<script>\n```"))
	f.Add([]byte("<a href=\"java\nscript:x\">x</a> <img src=`javascript:x`> <math><mi xlink:href=\"javascript:x\">"))
	f.Add([]byte("> [!WARNING]\n> <details>\n\n!!! danger\n    </details><script>\n"))
	r := New(Options{})
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := r.Render(src, 0)
		if err != nil {
			return
		}
		if bad := unsafeIn(string(res.HTML)); bad != "" {
			t.Fatalf("%s survived in %q", bad, res.HTML)
		}
		for _, fd := range res.Findings {
			if fd.Line < 1 || fd.Col < 1 {
				t.Fatalf("finding without a place: %+v", fd)
			}
		}
	})
}

func BenchmarkRender(b *testing.B) {
	src, _ := os.ReadFile("testdata/plan.md")
	r := New(Options{})
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := r.Render(src, 0); err != nil {
			b.Fatal(err)
		}
	}
}
