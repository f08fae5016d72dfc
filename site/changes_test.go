package site

import (
	"os"
	"path/filepath"
	"testing"
)

// TestChangeKind: what a changed file means for a served site, decided in
// one place (the dev server only acts on it).
func TestChangeKind(t *testing.T) {
	root := copyTree(t, "testdata/basic")
	theme := filepath.Join(root, "themes", "default")
	for _, f := range []string{"static/extra.css", "static/app.js", "layouts/base.html"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(theme, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(theme, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := New(Options{Root: root, Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	p := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	for _, tc := range []struct {
		name    string
		changed []string
		want    ChangeKind
		css     string
	}{
		{"a plan", []string{p("content/payments/a.md")}, ContentChange, ""},
		{"a drill report", []string{p("drills/a.json")}, ContentChange, ""},
		{"the config", []string{p("rollbook.yaml")}, ThemeChange, ""},
		{"a rollbook.yaml in content", []string{p("content/rollbook.yaml")}, ContentChange, ""},
		{"a template", []string{p("themes/default/layouts/base.html")}, ThemeChange, ""},
		{"a removed theme stylesheet", []string{p("themes/default/static/gone.css")}, ThemeChange, ""},
		{"a theme stylesheet", []string{p("themes/default/static/extra.css")}, StylesheetChange, "extra.css"},
		{"a theme script", []string{p("themes/default/static/app.js")}, ContentChange, ""},
		{"a stylesheet and a plan", []string{p("themes/default/static/extra.css"), p("content/a.md")}, ContentChange, ""},
		{"nothing", nil, ContentChange, ""},
	} {
		if kind, css := b.ChangeKind(tc.changed); kind != tc.want || css != tc.css {
			t.Errorf("%s: ChangeKind = %v %q, want %v %q", tc.name, kind, css, tc.want, tc.css)
		}
	}
}
