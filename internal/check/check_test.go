package check

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scaffold"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// base is a clean low-risk rollout; each case below changes one thing.
const base = `---
title: t
kind: rollout
service: s
risk: low
reviewed: 2026-11-01
analysis: {interval: 30s}
triggers:
  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 1500}
rollback: {class: fast, automatic: true}
contacts: {primary: "@s-oncall"}
---
## Executive summary
x
## Prerequisites and approvals
x
## Rollout procedure
x
## Verification signals
x
## Rollback procedure
1. Abort: ` + "`kubectl argo rollouts abort s`" + `. Verify: all pods on the old version.
`

func run(t *testing.T, src string) diag.List {
	t.Helper()
	p, ds := plan.Parse("content/x.md", "x.md", []byte(src))
	if len(ds.Errors()) > 0 {
		t.Fatalf("parse: %v", ds)
	}
	return Plan(p, "content/x.md", Options{Now: now, ContentDir: "testdata/content"})
}

func TestCleanPlan(t *testing.T) {
	if ds := run(t, base); len(ds) != 0 {
		t.Fatalf("clean plan has findings:\n%v", ds)
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(string) string
		rule   string
		sev    diag.Severity
		line   int
		substr string
	}{
		{"missing core section", func(s string) string { return strings.Replace(s, "## Verification signals\nx\n", "", 1) }, "required-section", diag.Error, 3, `"Verification signals"`},
		{"high risk needs all sections", func(s string) string { return strings.Replace(s, "risk: low", "risk: high\napprovals: [lead]", 1) }, "required-section", diag.Error, 3, `"Contingency plans"`},
		{"high risk needs approvals", func(s string) string { return strings.Replace(s, "risk: low", "risk: high", 1) }, "approvals", diag.Error, 5, "approvals"},
		{"high risk needs go/no-go", func(s string) string { return strings.Replace(s, "risk: low", "risk: high", 1) }, "go-no-go", diag.Error, 5, "go / no-go"},
		{"step without command", func(s string) string { return s + "2. Tell the team. Verify: they ack.\n" }, "rollback-step", diag.Error, 23, "no exact command"},
		{"step without verification", func(s string) string { return s + "2. Run `helm rollback s 41`.\n" }, "rollback-step", diag.Error, 23, "how to verify"},
		{"trigger without window", func(s string) string { return strings.Replace(s, "window: 2m, ", "", 1) }, "trigger-window", diag.Error, 9, "single spike"},
		{"window shorter than two intervals", func(s string) string { return strings.Replace(s, "window: 2m", "window: 45s", 1) }, "trigger-window", diag.Error, 9, "shorter than two analysis intervals"},
		{"ratio without min_requests", func(s string) string { return strings.Replace(s, ", min_requests: 1500", "", 1) }, "trigger-min-requests", diag.Error, 9, "min_requests"},
		{"baseline min_requests below the statistics' volume", func(s string) string { return strings.Replace(s, "min_requests: 1500", "min_requests: 200", 1) }, "trigger-power", diag.Warning, 9, "needs about 1500 requests a window"},
		{"no threshold", func(s string) string {
			return strings.Replace(s, "compare: baseline, max_delta: 2%, ", "", 1)
		}, "trigger-threshold", diag.Error, 9, "no threshold"},
		{"complex needs data recovery", func(s string) string { return strings.Replace(s, "class: fast", "class: complex", 1) }, "data-recovery", diag.Error, 10, "data recovery"},
		{"data recovery without backup check", func(s string) string {
			return strings.Replace(s, "class: fast", "class: irreversible", 1) + "## Data recovery\nRestore it somehow.\n"
		}, "backup-check", diag.Error, 23, "backup"},
		{"contract SQL with automatic rollback", func(s string) string {
			return strings.Replace(s, "contacts:", "migrations: [{id: m1, file: migrations/contract.sql, phase: expand}]\ncontacts:", 1)
		}, "contract-auto-rollback", diag.Error, 11, "contract change shipped with rollback.automatic: true"},
		{"declared expand but SQL contract", func(s string) string {
			return strings.Replace(s, "contacts:", "migrations: [{id: m1, file: migrations/contract.sql, phase: expand}]\ncontacts:", 1)
		}, "migration-phase", diag.Error, 11, "migrations/contract.sql:3"},
		{"declared contract with automatic rollback", func(s string) string {
			return strings.Replace(s, "contacts:", "migrations: [{id: m1, phase: contract}]\ncontacts:", 1)
		}, "contract-auto-rollback", diag.Error, 11, "declared phase: contract"},
		{"missing migration file", func(s string) string {
			return strings.Replace(s, "contacts:", "migrations: [{id: m1, file: migrations/none.sql}]\ncontacts:", 1)
		}, "migration-file", diag.Error, 11, "does not exist"},
		{"flag without owner", func(s string) string {
			return strings.Replace(s, "contacts:", "flags: [{name: f, cleanup: 2027-02-01}]\ncontacts:", 1)
		}, "flag-owner", diag.Error, 11, "no owner"},
		{"flag without cleanup", func(s string) string {
			return strings.Replace(s, "contacts:", "flags: [{name: f, owner: team}]\ncontacts:", 1)
		}, "flag-cleanup", diag.Error, 11, "no cleanup date"},
		{"stale flag", func(s string) string {
			return strings.Replace(s, "contacts:", "flags: [{name: f, owner: team, cleanup: 2026-01-01}]\ncontacts:", 1)
		}, "stale-flag", diag.Warning, 11, "due for removal"},
		{"friday afternoon high risk", func(s string) string {
			return strings.Replace(s, "risk: low", "risk: medium\nwindow: {start: 2026-11-27T15:00:00Z}\nrollback_note: x", 1)
		}, "", "", 0, ""},
		{"friday afternoon complex", func(s string) string {
			return strings.Replace(strings.Replace(s, "class: fast", "class: complex", 1), "risk: low", "risk: low\nwindow: {start: 2026-11-27T15:00:00Z}", 1)
		}, "risky-window", diag.Warning, 6, "Friday"},
		{"stale review", func(s string) string { return strings.Replace(s, "2026-11-01", "2026-01-01", 1) }, "stale-review", diag.Warning, 6, "days ago"},
		{"no review date", func(s string) string { return strings.Replace(s, "reviewed: 2026-11-01\n", "", 1) }, "stale-review", diag.Warning, 3, "no review date"},
		{"latency scenario without latency trigger", func(s string) string {
			return strings.Replace(s, "contacts:", "strategy: {steps: [{weight: 10, bake: 1m}, {weight: 100}]}\ngameday: {scenarios: [bad-canary-latency]}\ncontacts:", 1)
		}, "gameday-trigger", diag.Error, 12, "latency trigger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := run(t, tt.edit(base))
			if tt.rule == "" {
				for _, f := range ds {
					if f.Rule == "risky-window" {
						t.Errorf("medium-risk fast plan flagged: %s", f)
					}
				}
				return
			}
			for _, f := range ds {
				if f.Rule == tt.rule && strings.Contains(f.Message, tt.substr) {
					if f.Severity != tt.sev || f.Line != tt.line || f.Col < 1 || f.Fix == "" || f.File != "content/x.md" {
						t.Errorf("finding %s: want %s at line %d with a fix", f, tt.sev, tt.line)
					}
					return
				}
			}
			t.Errorf("no %s finding containing %q in:\n%v", tt.rule, tt.substr, ds)
		})
	}
}

// A new plan's skeleton has every section of its kind, so at high risk the
// only findings are about content the writer still has to fill in.
func TestSkeletonHasEverySection(t *testing.T) {
	for _, kind := range plan.Kinds {
		t.Run(kind, func(t *testing.T) {
			src, err := scaffold.Skeleton(kind, "New plan", "svc", now)
			if err != nil {
				t.Fatal(err)
			}
			s := strings.Replace(string(src), "risk: medium", "risk: high", 1)
			for _, f := range run(t, s) {
				if f.Rule == "required-section" {
					t.Errorf("skeleton lacks a section: %s", f)
				}
			}
		})
	}
	if _, err := scaffold.Skeleton("nope", "x", "y", now); err == nil {
		t.Error("unknown kind accepted")
	}
}

// A query: trigger that is not PromQL is reported where the parser
// stopped, with the parser's message, however the value is quoted.
func TestQueryTriggerPosition(t *testing.T) {
	const bad = `sum(rate(orders_total[5m])`
	for _, tt := range []struct {
		name, trigger string
		line, col     int
	}{
		// "  - {metric: orders, min: 3, window: 5m, query: " is 48 columns.
		{"single-quoted", "  - {metric: orders, min: 3, window: 5m, query: '" + bad + "'}\n", 9, 50 + len(bad)},
		{"double-quoted", "  - {metric: orders, min: 3, window: 5m, query: \"" + bad + "\"}\n", 9, 50 + len(bad)},
		{"plain", "  - metric: orders\n    min: 3\n    window: 5m\n    query: " + bad + "\n", 12, 12 + len(bad)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(base, "  - {metric: error_rate", tt.trigger+"  - {metric: error_rate", 1)
			ds := run(t, src)
			for _, f := range ds {
				if f.Rule != "trigger-query" {
					continue
				}
				if f.Line != tt.line || f.Col != tt.col || !strings.Contains(f.Message, "unclosed") && !strings.Contains(f.Message, "unexpected") {
					t.Errorf("got %s, want line %d col %d with the parser's message", f, tt.line, tt.col)
				}
				return
			}
			t.Fatalf("no trigger-query finding in %v", ds)
		})
	}
	good := strings.Replace(base, "  - {metric: error_rate", "  - {metric: orders, min: 3, window: 5m, query: 'sum(rate(orders_total[5m]))'}\n  - {metric: error_rate", 1)
	for _, f := range run(t, good) {
		if f.Rule == "trigger-query" || f.Rule == "trigger-min-requests" {
			t.Errorf("valid query flagged: %s", f)
		}
	}
}

// A plan fresh from rollbook new warns once about its TODO prompts, at
// the first; a plan that mentions a to-do list in a sentence does not.
func TestTodoPlaceholders(t *testing.T) {
	src, err := scaffold.Skeleton(plan.KindRollout, "New plan", "svc", now)
	if err != nil {
		t.Fatal(err)
	}
	var todos diag.List
	for _, f := range run(t, string(src)) {
		if f.Rule == "todo-placeholder" {
			todos = append(todos, f)
		}
	}
	if len(todos) != 1 || todos[0].Severity != diag.Warning || todos[0].Line != 5 || !strings.Contains(todos[0].Message, "(first in owners)") {
		t.Fatalf("skeleton: %v", todos)
	}
	body := strings.Replace(base, "## Verification signals\nx", "## Verification signals\nTODO: the 2-5 min signals\n\n```\n# TODO: in a code block\n```\nOur TODO list is short.", 1)
	ds := run(t, body)
	var got []string
	for _, f := range ds {
		got = append(got, f.String())
	}
	if len(ds) != 1 || ds[0].Rule != "todo-placeholder" || ds[0].Line != 20 || !strings.Contains(ds[0].Message, "1 TODO placeholder(s)") {
		t.Fatalf("body placeholders: %v", got)
	}
}

// saysHowToVerify is the word scan of the regexp it replaced; the regexp
// stays here as the oracle (ASCII text: (?i) also folds the Kelvin sign
// and the long s, which no runbook writes for k and s).
var verifyWordsRegexp = regexp.MustCompile(`(?i)\b(verify|verified|verification|check|checks|confirm|expect|expected|validate|validation|ensure|should|until|wait for|watch|assert|returns?|shows?)\b`)

func FuzzSaysHowToVerify(f *testing.F) {
	for _, s := range []string{"Verify: kubectl get pods", "re-check the pods", "wait for it", "wait  for it", "waitfor", "wait for_", "checking", "CHECKS", "returns 200", "show", "nothing here", "x_check", "wait\tfor", "wait for", "await for", "wait forever"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range s {
			if r >= utf8.RuneSelf {
				return
			}
		}
		if got, want := saysHowToVerify(s), verifyWordsRegexp.MatchString(s); got != want {
			t.Errorf("saysHowToVerify(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}
