package alertrule

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseRuleFile(t *testing.T) {
	src, err := os.ReadFile("testdata/node.rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := Parse("rules/node.yaml", src)
	ps := f.Problems
	if len(ps) != 0 {
		t.Fatalf("problems: %+v", ps)
	}
	if len(f.Groups) != 1 || f.Groups[0].Name != "node" || f.Groups[0].Pos != (Pos{2, 11}) {
		t.Fatalf("groups = %+v", f.Groups)
	}
	as := Alerts([]*File{f})
	if len(as) != 1 {
		t.Fatalf("alerts = %+v", as)
	}
	a := as[0]
	if a.Name != "NodeFilesystemAlmostOutOfSpace" || a.Pos != (Pos{7, 16}) || a.Group != "node" || a.File != "rules/node.yaml" {
		t.Errorf("alert = %+v", a)
	}
	if a.For != 30*time.Minute || a.ForText() != "30m" || a.Severity() != "critical" {
		t.Errorf("for/severity = %v %q %q", a.For, a.ForText(), a.Severity())
	}
	if !strings.HasPrefix(a.Expr, "(\n  node_filesystem_avail_bytes") || a.ExprPos != (Pos{8, 15}) {
		t.Errorf("expr at %v: %q", a.ExprPos, a.Expr)
	}
	u, ok := a.RunbookURL()
	if !ok || u.Pos != (Pos{20, 24}) || !strings.HasSuffix(u.Value, "NodeFilesystemAlmostOutOfSpace.md") {
		t.Errorf("runbook_url = %+v", u)
	}
	if a.Summary() != "Filesystem has less than 5% space left." || !strings.Contains(a.Description(), "$labels.device") {
		t.Errorf("summary/description = %q / %q", a.Summary(), a.Description())
	}
}

func TestParseManifest(t *testing.T) {
	src, err := os.ReadFile("testdata/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := Parse("deploy/payments.yaml", src)
	ps := f.Problems
	if len(ps) != 0 {
		t.Fatalf("problems: %+v", ps)
	}
	as := Alerts([]*File{f})
	if len(as) != 1 || as[0].Name != "PaymentsHighErrorRate" || as[0].Pos != (Pos{15, 18}) || f.Groups[0].Doc != 1 {
		t.Fatalf("alerts = %+v, groups = %+v", as, f.Groups)
	}
	if as[0].Label("team") != "payments" || as[0].Severity() != "warning" {
		t.Errorf("labels = %+v", as[0].Labels)
	}
}

// Each bad input is one positioned problem with the parser's words, and
// the other alerts of the file are still read.
func TestParseBadInput(t *testing.T) {
	good := "  - name: ok\n    rules:\n      - alert: Fine\n        expr: up == 0\n"
	for _, tc := range []struct {
		name, src string
		kind      ProblemKind
		at        Pos
		msg       string
		alerts    int
	}{
		{"not yaml", "groups:\n  - name: a\n   rules: [\n", BadFile, Pos{3, 4}, "not valid YAML", 0},
		{"not rules", "hello: world\n", BadFile, Pos{1, 1}, "holds no rule groups", 0},
		{"groups not a list", "groups: {name: a}\n", BadFile, Pos{1, 9}, "must be a list", 0},
		{"group without name", "groups:\n  - rules:\n      - alert: A\n        expr: up == 0\n" + good, GroupName, Pos{2, 5}, "no name", 2},
		{"repeated group", "groups:\n" + good + good, GroupName, Pos{6, 11}, "repeated", 2},
		{"alert without expr", "groups:\n  - name: g\n    rules:\n      - alert: NoExpr\n        for: 5m\n" + good, NoExpr, Pos{4, 9}, "has no expr", 2},
		{"expr not promql", "groups:\n  - name: g\n    rules:\n      - alert: Bad\n        expr: sum(rate(x[5m]) > 1\n" + good, BadExpr, Pos{5, 34}, "unclosed left parenthesis", 2},
		{"expr block not promql", "groups:\n  - name: g\n    rules:\n      - alert: Bad\n        expr: |\n          up ==\n" + good, BadExpr, Pos{7, 11}, "unexpected end of input", 2},
		{"unknown field", "groups:\n  - name: g\n    rules:\n      - alert: Typo\n        expr: up\n        annotation: {summary: x}\n" + good, BadRule, Pos{6, 9}, `"annotations"`, 2},
		{"bad duration", "groups:\n  - name: g\n    rules:\n      - alert: D\n        expr: up\n        for: soon\n" + good, BadRule, Pos{6, 14}, "soon", 1},
		{"bad template", "groups:\n  - name: g\n    rules:\n      - alert: T\n        expr: up\n        annotations: {summary: '{{ .Nope'}\n" + good, BadRule, Pos{4, 9}, "annotation \"summary\"", 2},
		{"no alert name", "groups:\n  - name: g\n    rules:\n      - expr: up\n" + good, BadRule, Pos{4, 9}, "'record' or 'alert'", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Parse("r.yaml", []byte(tc.src))
			ps := f.Problems
			if len(ps) != 1 {
				t.Fatalf("want one problem, got %+v", ps)
			}
			p := ps[0]
			if p.Kind != tc.kind || p.Pos != tc.at || !strings.Contains(p.Message+" "+p.Fix, tc.msg) || p.Fix == "" {
				t.Errorf("got %+v; want kind %d at %v with %q", p, tc.kind, tc.at, tc.msg)
			}
			if n := len(Alerts([]*File{f})); n != tc.alerts {
				t.Errorf("%d alerts read, want %d", n, tc.alerts)
			}
		})
	}
}
