package plan

import (
	"strings"
	"testing"
)

var timingSteps = []Step{{Weight: 10}, {Weight: 50}, {Weight: 100}}

// TestMigrationTiming: runs: as written, else the default for the kind of
// change (contract → post-deploy, anything else → pre-deploy), and what
// each timing says and means for the previous release.
func TestMigrationTiming(t *testing.T) {
	tests := []struct {
		name     string
		m        Migration
		contract bool
		steps    []Step
		want     Timing
		describe string
		serves   bool
		share    int
	}{
		{"expand defaults to pre-deploy", Migration{Phase: "expand"}, false, timingSteps, Timing{Runs: RunsPreDeploy, Defaulted: true}, "before step 1", true, 100},
		{"no phase defaults to pre-deploy", Migration{}, false, timingSteps, Timing{Runs: RunsPreDeploy, Defaulted: true}, "before step 1", true, 100},
		{"contract defaults to post-deploy", Migration{Phase: "contract"}, true, timingSteps, Timing{Runs: RunsPostDeploy, Defaulted: true}, "after promotion to 100 %, then a bake", false, 0},
		{"SQL contract defaults to post-deploy", Migration{Phase: "expand"}, true, timingSteps, Timing{Runs: RunsPostDeploy, Defaulted: true}, "after promotion to 100 %, then a bake", false, 0},
		{"written pre-deploy", Migration{Runs: RunsPreDeploy}, true, timingSteps, Timing{Runs: RunsPreDeploy}, "before step 1", true, 100},
		{"pre-deploy without steps", Migration{Runs: RunsPreDeploy}, false, nil, Timing{Runs: RunsPreDeploy}, "before the rollout starts", true, 100},
		{"written post-deploy", Migration{Runs: RunsPostDeploy}, false, timingSteps, Timing{Runs: RunsPostDeploy}, "after promotion to 100 %, then a bake", false, 0},
		{"during-deploy at a canary step", Migration{Runs: RunsDuringDeploy, AtStep: 2}, true, timingSteps, Timing{Runs: RunsDuringDeploy, AtStep: 2}, "at step 2 (50 %)", true, 50},
		{"during-deploy at 100 %", Migration{Runs: RunsDuringDeploy, AtStep: 3}, true, timingSteps, Timing{Runs: RunsDuringDeploy, AtStep: 3}, "at step 3 (100 %)", false, 0},
		{"during-deploy without at_step", Migration{Runs: RunsDuringDeploy}, false, timingSteps, Timing{Runs: RunsDuringDeploy}, "no at_step", true, -1},
		{"during-deploy past the steps", Migration{Runs: RunsDuringDeploy, AtStep: 4}, false, timingSteps, Timing{Runs: RunsDuringDeploy, AtStep: 4}, "at step 4, which the plan does not have (3 steps)", true, -1},
		{"manual", Migration{Runs: RunsManual}, true, timingSteps, Timing{Runs: RunsManual}, "manual: never applied automatically", false, 0},
		{"at_step kept with another runs", Migration{Runs: RunsPreDeploy, AtStep: 2}, false, timingSteps, Timing{Runs: RunsPreDeploy, AtStep: 2}, "before step 1", true, 100},
		{"unknown runs", Migration{Runs: "sometime"}, false, timingSteps, Timing{Runs: "sometime"}, `"sometime"`, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m.Timing(tt.contract)
			if got != tt.want {
				t.Fatalf("Timing(%v) = %+v, want %+v", tt.contract, got, tt.want)
			}
			if d := got.Describe(tt.steps); !strings.Contains(d, tt.describe) {
				t.Errorf("Describe = %q, want it to contain %q", d, tt.describe)
			}
			if s := got.PreviousServes(tt.steps); s != tt.serves {
				t.Errorf("PreviousServes = %v, want %v", s, tt.serves)
			}
			if s := got.PreviousShare(tt.steps); s != tt.share {
				t.Errorf("PreviousShare = %d, want %d", s, tt.share)
			}
		})
	}
}

// TestMigrationTimingParsed: runs: and at_step: parse, with positions.
func TestMigrationTimingParsed(t *testing.T) {
	src := "---\nstrategy: {steps: [{weight: 10}, {weight: 100}]}\nmigrations:\n  - {id: a, phase: contract}\n  - id: b\n    runs: during-deploy\n    at_step: 1\n---\n"
	p, ds := Parse("content/x.md", "x.md", []byte(src))
	if len(ds) != 0 {
		t.Fatalf("findings: %v", ds)
	}
	if got := p.Migrations[0].Timing(true); got != (Timing{Runs: RunsPostDeploy, Defaulted: true}) {
		t.Errorf("a: %+v", got)
	}
	b := p.Migrations[1].Timing(false)
	if b != (Timing{Runs: RunsDuringDeploy, AtStep: 1}) || b.Describe(p.Strategy.Steps) != "at step 1 (10 %)" || !b.PreviousServes(p.Strategy.Steps) {
		t.Errorf("b: %+v %q", b, b.Describe(p.Strategy.Steps))
	}
	if got := p.Pos("migrations[1].at_step"); got != (Pos{Line: 7, Col: 14}) {
		t.Errorf("Pos(migrations[1].at_step) = %+v", got)
	}
	if got := p.Pos("migrations[1].runs"); got != (Pos{Line: 6, Col: 11}) {
		t.Errorf("Pos(migrations[1].runs) = %+v", got)
	}
	if p.Has("migrations[0].runs") || !p.Has("migrations[1].runs") {
		t.Errorf("Has(runs) wrong")
	}
	if _, ds := Parse("content/x.md", "x.md", []byte("---\nmigrations: [{id: a, runs: later}]\n---\n")); len(ds) != 1 || ds[0].Rule != "enum" || !strings.Contains(ds[0].Fix, "during-deploy") {
		t.Errorf("unknown runs: %v", ds)
	}
}
