package check

import (
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// timingRules are the rules about when a migration runs (SPEC 3.3).
var timingRules = map[string]bool{"contract-before-promotion": true, "migration-runs": true, "migration-at-step": true}

// withMigrations is base with three canary steps (10, 50, 100 %), manual
// rollback and the migrations written from line 13 on.
func withMigrations(migrations string) string {
	s := strings.Replace(base, "automatic: true", "automatic: false, decision_maker: incident commander", 1)
	return strings.Replace(s, "contacts:", "strategy: {steps: [{weight: 10, bake: 5m}, {weight: 50, bake: 5m}, {weight: 100}]}\nmigrations:\n"+migrations+"contacts:", 1)
}

// TestMigrationTimingRules: each timing rule fires where it should, at
// the key it is about, and not on a migration whose timing is safe.
func TestMigrationTimingRules(t *testing.T) {
	type want struct {
		rule      string
		line, col int
		text      string // in the message or the fix
	}
	tests := []struct {
		name       string
		migrations string
		want       []want
	}{
		{"contract post-deploy", "  - {id: m1, phase: contract, runs: post-deploy}\n", nil},
		{"contract manual", "  - {id: m1, phase: contract, runs: manual}\n", nil},
		{"expand without runs", "  - {id: m1, phase: expand}\n", nil},
		{"expand pre-deploy", "  - {id: m1, file: migrations/expand.sql, phase: expand, runs: pre-deploy}\n", nil},
		{"expand during-deploy at a canary step", "  - {id: m1, phase: expand, runs: during-deploy, at_step: 2}\n", nil},
		{"contract during-deploy at the 100 % step", "  - {id: m1, phase: contract, runs: during-deploy, at_step: 3}\n", nil},
		{"declared contract without runs", "  - {id: m1, phase: contract}\n",
			[]want{{"migration-runs", 13, 3, "defaults to post-deploy (after promotion to 100 %, then a bake)"}}},
		{"SQL contract without runs", "  - {id: m1, file: migrations/contract.sql, phase: contract}\n",
			[]want{{"migration-runs", 13, 3, "write runs: post-deploy (or runs: during-deploy with at_step: 3"}}},
		{"contract without runs, block style", "  - id: m1\n    phase: contract\n",
			[]want{{"migration-runs", 13, 3, "contract migration m1"}}},
		{"declared contract pre-deploy", "  - {id: m1, phase: contract, runs: pre-deploy}\n",
			[]want{{"contract-before-promotion", 13, 37, "runs pre-deploy, before step 1: the previous release still serves 100 % of traffic and reads what it drops"}}},
		{"SQL contract declared expand, pre-deploy", "  - {id: m1, file: migrations/contract.sql, phase: expand, runs: pre-deploy}\n",
			[]want{{"contract-before-promotion", 13, 66, "migrations/contract.sql:3"}}},
		{"contract during-deploy at 50 %", "  - {id: m1, phase: contract, runs: during-deploy, at_step: 2}\n",
			[]want{{"contract-before-promotion", 13, 37, "at step 2 (50 %): the previous release still serves 50 % of traffic"}}},
		{"contract fix names the split", "  - {id: m1, phase: contract, runs: pre-deploy}\n",
			[]want{{"contract-before-promotion", 13, 37, "expand in this release, write both shapes, and contract in a later release"}}},
		{"during-deploy without at_step", "  - {id: m1, phase: expand, runs: during-deploy}\n",
			[]want{{"migration-at-step", 13, 35, "add at_step: N, the strategy step it runs at (valid steps: 1..3)"}}},
		{"contract during-deploy without at_step: the step error only", "  - {id: m1, phase: contract, runs: during-deploy}\n",
			[]want{{"migration-at-step", 13, 37, "no at_step"}}},
		{"at_step past the steps", "  - {id: m1, phase: expand, runs: during-deploy, at_step: 4}\n",
			[]want{{"migration-at-step", 13, 59, "runs at step 4, but the plan has 3 strategy steps"}}},
		{"at_step 0", "  - {id: m1, phase: expand, runs: during-deploy, at_step: 0}\n",
			[]want{{"migration-at-step", 13, 59, "a step from 1 to 3"}}},
		{"at_step with pre-deploy", "  - {id: m1, phase: expand, runs: pre-deploy, at_step: 2}\n",
			[]want{{"migration-at-step", 13, 56, "write runs: during-deploy, or drop at_step"}}},
		{"at_step without runs", "  - {id: m1, phase: expand, at_step: 2}\n",
			[]want{{"migration-at-step", 13, 38, "no runs: (so pre-deploy)"}}},
		{"second migration", "  - {id: m0, phase: expand}\n  - {id: m1, phase: contract, runs: pre-deploy}\n",
			[]want{{"contract-before-promotion", 14, 37, "migration m1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got diag.List
			for _, f := range run(t, withMigrations(tt.migrations)) {
				if timingRules[f.Rule] {
					got = append(got, f)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d timing findings, want %d:\n%v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				f := got[i]
				r, _ := Lookup(w.rule)
				if f.Rule != w.rule || f.Line != w.line || f.Col != w.col || f.Severity != r.Severity || f.Fix == "" || f.File != "content/x.md" || !strings.Contains(f.Message+" | "+f.Fix, w.text) {
					t.Errorf("got %s (fix: %s)\nwant %s at %d:%d containing %q", f, f.Fix, w.rule, w.line, w.col, w.text)
				}
			}
		})
	}
}

// TestMigrationTimingNoSteps: with no strategy steps, at_step names that
// there are none, and pre-deploy still serves the previous release.
func TestMigrationTimingNoSteps(t *testing.T) {
	src := strings.Replace(base, "contacts:", "migrations: [{id: m1, phase: expand, runs: during-deploy, at_step: 1}]\ncontacts:", 1)
	var found bool
	for _, f := range run(t, src) {
		if f.Rule == "migration-at-step" {
			found = true
			if !strings.Contains(f.Message, "no strategy steps") || !strings.Contains(f.Fix, "add strategy.steps") {
				t.Errorf("got %s (fix: %s)", f, f.Fix)
			}
		}
	}
	if !found {
		t.Error("no migration-at-step finding")
	}
}

// TestMigrationRunsDefaults: the checks take a migration's timing from
// plan.Timing, with the contract verdict of its declared phase or its SQL:
// a contract change defaults to post-deploy (and is warned about), any
// other to pre-deploy (and is not).
func TestMigrationRunsDefaults(t *testing.T) {
	for _, tt := range []struct {
		name      string
		migration string
		contract  bool
		runs      string
	}{
		{"declared expand", "{id: m1, phase: expand}", false, plan.RunsPreDeploy},
		{"no phase, expand SQL", "{id: m1, file: migrations/expand.sql}", false, plan.RunsPreDeploy},
		{"declared contract", "{id: m1, phase: contract}", true, plan.RunsPostDeploy},
		{"contract SQL", "{id: m1, file: migrations/contract.sql}", true, plan.RunsPostDeploy},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := withMigrations("  - " + tt.migration + "\n")
			p, _ := plan.Parse("content/x.md", "x.md", []byte(src))
			if got := p.Migrations[0].Timing(tt.contract); got.Runs != tt.runs || !got.Defaulted {
				t.Fatalf("Timing(%v) = %+v, want %s (defaulted)", tt.contract, got, tt.runs)
			}
			warned := false
			for _, f := range run(t, src) {
				if f.Rule == "migration-runs" {
					warned = true
					if !strings.Contains(f.Message, "defaults to "+tt.runs) {
						t.Errorf("warning does not name the default: %s", f)
					}
				}
				if f.Rule == "contract-before-promotion" {
					t.Errorf("a defaulted timing is never before promotion: %s", f)
				}
			}
			if warned != tt.contract {
				t.Errorf("migration-runs warned %v, want %v", warned, tt.contract)
			}
		})
	}
}
