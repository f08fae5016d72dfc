package check

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/plan"
)

// Each bad input is one positioned finding of its rule, and the other
// rule file is still checked: its critical alert without a runbook is
// reported beside it.
func TestAlertBadInput(t *testing.T) {
	other := "groups:\n  - name: ok\n    rules:\n      - alert: Elsewhere\n        expr: up == 0\n        labels: {severity: critical}\n"
	rule := func(body string) string { return "groups:\n  - name: g\n    rules:\n" + body }
	for _, tc := range []struct {
		name, src string
		globs     []Glob
		want      string // file:line:col severity rule
	}{
		{"not yaml", "groups: [\n  - name: a\n", nil, "r.yaml:1:9: error alert-rule-file"},
		{"group without name", "groups:\n  - rules: []\n", nil, "r.yaml:2:5: error alert-group-name"},
		{"alert without expr", rule("      - alert: A\n        labels: {severity: info}\n"), nil, "r.yaml:4:9: error alert-expr"},
		{"expr not promql", rule("      - alert: A\n        expr: rate(x[5m]\n        labels: {severity: info}\n"), nil, "r.yaml:5:25: error alert-expr"},
		{"two runbooks", rule("      - alert: A\n        expr: up\n        labels: {severity: info}\n        annotations: {runbook_url: 'https://x.example/a'}\n      - alert: A\n        expr: up\n        labels: {severity: info}\n        annotations: {runbook_url: 'https://x.example/b'}\n"), nil, "r.yaml:11:36: error alert-duplicate"},
		{"glob matches nothing", rule(""), []Glob{{Pattern: "nope/*.yaml", Line: 3, Col: 5}}, "rollbook.yaml:3:5: warning alert-rules-glob"},
		{"runbook_url not a URL", rule("      - alert: A\n        expr: up\n        labels: {severity: info}\n        annotations: {runbook_url: 'ftp://x/a'}\n"), nil, "r.yaml:7:36: error alert-runbook-url"},
		{"runbook_url reaching no page", rule("      - alert: A\n        expr: up\n        labels: {severity: info}\n        annotations: {runbook_url: /nowhere/}\n"), nil, "r.yaml:7:36: error alert-runbook-broken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := []*alertrule.File{alertrule.Parse("r.yaml", []byte(tc.src)), alertrule.Parse("other.yaml", []byte(other))}
			ix := alertrule.Join(files, nil, "https://runbooks.example.com/")
			ds := Alerts(ix, map[string]*plan.Plan{}, AlertOptions{RequireRunbook: []string{"critical"}, Globs: tc.globs, Config: "rollbook.yaml", ContentDir: "content"})
			var got []string
			for _, f := range ds {
				got = append(got, fmt.Sprintf("%s:%d:%d: %s %s", f.File, f.Line, f.Col, f.Severity, f.Rule))
			}
			want := []string{"other.yaml:4:16: error alert-no-runbook", tc.want}
			if strings.Join(got, "\n") != strings.Join(want, "\n") && strings.Join(got, "\n") != want[1]+"\n"+want[0] {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
