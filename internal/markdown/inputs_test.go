package markdown

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Placeholder
	}{
		{"none", "# Title\n\nNo braces.\n", nil},
		{"fenced", "text\n\n```bash\nkubectl -n {{ .namespace }} get pods\n```\n", []Placeholder{{"namespace", 4, 12}}},
		{"no spaces and trim markers", "```\n{{.a}} {{- .b -}}\n```\n", []Placeholder{{"a", 2, 1}, {"b", 2, 8}}},
		{"indented in a list", "1. step\n\n   ```sh\n   echo {{ .pod }}\n   ```\n", []Placeholder{{"pod", 4, 9}}},
		{"column counts characters", "```\nécho «{{ .x }}»\n```\n", []Placeholder{{"x", 2, 7}}},
		{"inline code and prose are not commands", "Run `kubectl {{ .ns }}` or {{ .ns }}.\n", nil},
		{"dotted path is another template", "```\n{{ .Values.image }}\n```\n", nil},
		{"template language left alone", "```helm\n{{ .namespace }}\n```\n", nil},
		{"indented code block", "para\n\n    echo {{ .host }}\n", []Placeholder{{"host", 3, 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Placeholders([]byte(tt.body))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Placeholders = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestInputsRender holds the filled-command markup to what the page's
// script reads: every placeholder one element naming its input, the block
// listing its inputs, the text as written for a reader without script.
func TestInputsRender(t *testing.T) {
	src, err := os.ReadFile("testdata/incident.md")
	if err != nil {
		t.Fatal(err)
	}
	res, err := New(Options{}).Render(src, 0)
	if err != nil {
		t.Fatal(err)
	}
	html := string(res.HTML)
	for _, want := range []string{
		`<div class="code" data-inputs="namespace rollout cluster">`,
		`<span class="input" data-input="rollout">{{.rollout}}</span>`,
		`<div class="code" data-inputs="namespace rollout">`,
		`<span class="input" data-input="host">{{ .host }}</span>`,
		`<div class="code" data-inputs="host">`,
		`x=&lt;b&gt;`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("missing %s in\n%s", want, html)
		}
	}
	if n := strings.Count(html, `class="input"`); n != 6 {
		t.Errorf("%d placeholder elements, want 6 (not in inline code nor the gotmpl block)", n)
	}
	if strings.Contains(html, "zzrbinput") {
		t.Error("a placeholder mark was left in the HTML")
	}
}

// TestMarksSplitByLexerFallBack: when highlighting splits a mark, the
// block is shown plain with its placeholders, never with a mark in it.
func TestMarksSplitByLexerFallBack(t *testing.T) {
	_, f := markInputs("bash", "echo {{ .a }}")
	if _, ok := f.restore("echo zzrbin<span>put0zz</span>"); ok {
		t.Fatal("restore accepted a split mark")
	}
	if got, want := f.plain("echo {{ .a }} <x>"), `echo <span class="input" data-input="a">{{ .a }}</span> &lt;x&gt;`; got != want {
		t.Errorf("plain = %s, want %s", got, want)
	}
}

func TestTaskBoxes(t *testing.T) {
	res, err := New(Options{}).Render([]byte("- [ ] Backup <b>verified</b>\n- [x] Paged `@oncall`\n- plain item\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	html := string(res.HTML)
	for _, want := range []string{
		`<input type="checkbox" class="task" disabled aria-label="Backup verified"> `,
		`<input type="checkbox" class="task" disabled checked aria-label="Paged @oncall"> `,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("missing %s in\n%s", want, html)
		}
	}
	if n := strings.Count(html, "<input"); n != 2 {
		t.Errorf("%d boxes, want 2", n)
	}
}
