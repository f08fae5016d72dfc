package site

import (
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/statesvg"
)

// TestMigrationRunsOnPlanPage: the plan page says when each migration
// runs (plan.Timing, with "(default)" when runs: is not written) and the
// state machine marks it on the state it runs in.
func TestMigrationRunsOnPlanPage(t *testing.T) {
	steps := []plan.Step{{Weight: 10}, {Weight: 50}, {Weight: 100}}
	view := func(m plan.Migration, contract bool) MigrationView {
		v := MigrationView{Migration: m, Contract: contract, Timing: m.Timing(contract)}
		v.When = v.Timing.Describe(steps)
		return v
	}
	tests := []struct {
		name string
		v    MigrationView
		text string
		at   int
		bad  bool
	}{
		{"contract defaulted", view(plan.Migration{ID: "a", Phase: "contract"}, true), "post-deploy — after promotion to 100 %, then a bake (default)", statesvg.AfterPromotion, false},
		{"expand pre-deploy", view(plan.Migration{ID: "b", Runs: plan.RunsPreDeploy}, false), "pre-deploy — before step 1", statesvg.BeforeSteps, false},
		{"contract at a canary step", view(plan.Migration{ID: "c", Runs: plan.RunsDuringDeploy, AtStep: 2}, true), "during-deploy — at step 2 (50 %)", 2, true},
		{"past the steps", view(plan.Migration{ID: "d", Runs: plan.RunsDuringDeploy, AtStep: 7}, false), "during-deploy — at step 7, which the plan does not have (3 steps)", statesvg.NotPlaced, false},
		{"manual", view(plan.Migration{ID: "e", Runs: plan.RunsManual}, true), "manual: never applied automatically", statesvg.NotPlaced, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.RunsText(); got != tt.text {
				t.Errorf("RunsText = %q, want %q", got, tt.text)
			}
			pg := &Page{Plan: &plan.Plan{Strategy: plan.Strategy{Steps: steps}}, Migrations: []MigrationView{tt.v}}
			m := machine(pg)
			want := statesvg.Migration{ID: tt.v.ID, At: tt.at, When: tt.text, Unsafe: tt.bad}
			if len(m.Migrations) != 1 || m.Migrations[0] != want {
				t.Errorf("machine migrations = %+v, want %+v", m.Migrations, want)
			}
			if svg := string(statesvg.Render(m)); !strings.Contains(svg, "migration "+tt.v.ID) {
				t.Errorf("state machine does not name migration %s", tt.v.ID)
			}
		})
	}
}
