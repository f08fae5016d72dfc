package alertrule

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any input yields problems and alerts inside the file, never a
// panic; the seeds are the test rule files and the bad inputs' shapes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("groups:\n  - rules:\n      - alert: A\n"))
	f.Add([]byte("groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: |\n          sum(rate(x[5m])\n        for: 1x\n"))
	f.Add([]byte("kind: PrometheusRule\nspec:\n  groups: [{name: a, rules: [{alert: X, expr: 'up{'}]}]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// YAML breaks lines at \n, \r\n and a lone \r.
		lines := bytes.Count(bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n")), []byte("\n")) + bytes.Count(src, []byte("\r")) - bytes.Count(src, []byte("\r\n")) + 1
		fl := Parse("f.yaml", src)
		ps := fl.Problems
		for _, p := range ps {
			if p.Pos.Line < 1 || p.Pos.Col < 1 || p.Pos.Line > lines || p.Message == "" {
				t.Fatalf("problem outside the file (%d lines): %+v", lines, p)
			}
		}
		for _, a := range Alerts([]*File{fl}) {
			if a.Name == "" || a.Pos.Line < 1 || a.Pos.Line > lines {
				t.Fatalf("alert outside the file: %+v", a)
			}
		}
	})
}
