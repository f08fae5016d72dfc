package plan

import "fmt"

// When a migration runs in a rollout (migrations[].runs, SPEC 3.3).
const (
	// RunsPreDeploy runs before step 1, while the previous release serves
	// all traffic: the default for expand and migrate changes.
	RunsPreDeploy = "pre-deploy"
	// RunsDuringDeploy runs once the rollout reaches step at_step.
	RunsDuringDeploy = "during-deploy"
	// RunsPostDeploy runs after promotion to 100 %, then a bake: the
	// default for contract changes.
	RunsPostDeploy = "post-deploy"
	// RunsManual is never applied automatically (nor by a drill).
	RunsManual = "manual"
)

// Timing is when a migration runs in a rollout. It is the one home of the
// timing rule: the checks, the site and the drill all read it.
type Timing struct {
	// Runs is one of the Runs* constants (or, in a plan whose runs: did
	// not parse, the word written).
	Runs string
	// AtStep is the 1-based step a during-deploy migration runs at, as
	// written (0 when not written).
	AtStep int
	// Defaulted is true when the plan does not write runs: and Runs is
	// the default for the migration's kind of change.
	Defaulted bool
}

// Timing returns when m runs; contract says whether its change is a
// contract one (declared phase: contract, or found so by the SQL analysis
// — the caller passes it). A migration without runs: runs post-deploy when
// it is a contract change and pre-deploy otherwise, with Defaulted set.
func (m Migration) Timing(contract bool) Timing {
	t := Timing{Runs: m.Runs, AtStep: m.AtStep}
	if t.Runs == "" {
		t.Defaulted = true
		t.Runs = RunsPreDeploy
		if contract {
			t.Runs = RunsPostDeploy
		}
	}
	return t
}

// Step returns the strategy step a during-deploy migration runs at, and
// false when the timing is not during-deploy or AtStep is not one of
// steps (1..len(steps)).
func (t Timing) Step(steps []Step) (Step, bool) {
	if t.Runs != RunsDuringDeploy || t.AtStep < 1 || t.AtStep > len(steps) {
		return Step{}, false
	}
	return steps[t.AtStep-1], true
}

// Describe says when the migration runs for a person, given the plan's
// strategy steps: "before step 1", "at step 2 (50 %)", "after promotion
// to 100 %, then a bake", "manual: never applied automatically".
func (t Timing) Describe(steps []Step) string {
	switch t.Runs {
	case RunsPreDeploy:
		if len(steps) == 0 {
			return "before the rollout starts"
		}
		return "before step 1"
	case RunsDuringDeploy:
		if s, ok := t.Step(steps); ok {
			return fmt.Sprintf("at step %d (%d %%)", t.AtStep, s.Weight)
		}
		if t.AtStep == 0 {
			return "during the rollout, at a step not given (no at_step)"
		}
		return fmt.Sprintf("at step %d, which the plan does not have (%s)", t.AtStep, stepCount(len(steps), "step"))
	case RunsPostDeploy:
		return "after promotion to 100 %, then a bake"
	case RunsManual:
		return "manual: never applied automatically"
	}
	return fmt.Sprintf("runs: %q, not a known timing", t.Runs)
}

// PreviousServes reports whether the previous release still takes traffic
// while the migration runs: pre-deploy always; during-deploy when its
// step's weight is under 100 (and when the step is missing or not one of
// steps, as the previous release serves until promotion); post-deploy and
// manual never.
func (t Timing) PreviousServes(steps []Step) bool {
	switch t.Runs {
	case RunsPreDeploy:
		return true
	case RunsDuringDeploy:
		if s, ok := t.Step(steps); ok {
			return s.Weight < 100
		}
		return true
	}
	return false
}

// PreviousShare is the percent of traffic the previous release still
// serves while the migration runs: 100 before step 1, 100 minus the
// step's weight during the deploy (-1 when the step is not known), 0
// after promotion or when run by hand.
func (t Timing) PreviousShare(steps []Step) int {
	switch t.Runs {
	case RunsPreDeploy:
		return 100
	case RunsDuringDeploy:
		if s, ok := t.Step(steps); ok {
			return max(0, 100-s.Weight)
		}
		return -1
	}
	return 0
}

// stepCount says how many steps a plan has, each called what.
func stepCount(n int, what string) string {
	switch n {
	case 0:
		return "no strategy steps"
	case 1:
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Misplaced is why a rollout cannot place a migration at a step: the
// field at fault ("runs" or "at_step"), the problem (to follow "migration
// ID ") and what to write instead.
type Misplaced struct {
	Field, Problem, Fix string
}

// Misplaced reports whether t cannot be placed among steps: during-deploy
// without at_step or at a step the plan does not have, or at_step beside
// another runs. atStepWritten says the plan writes at_step (0 included).
// It is the one rule that rollbook check and the drill both apply.
func (t Timing) Misplaced(steps []Step, atStepWritten bool) (Misplaced, bool) {
	switch {
	case atStepWritten && t.Runs != RunsDuringDeploy:
		runs := "runs: " + t.Runs
		if t.Defaulted {
			runs = "no runs: (so " + t.Runs + ")"
		}
		return Misplaced{"at_step", fmt.Sprintf("has at_step: %d but %s; at_step only places a during-deploy migration", t.AtStep, runs), "write runs: during-deploy, or drop at_step"}, true
	case t.Runs != RunsDuringDeploy:
		return Misplaced{}, false
	case !atStepWritten:
		valid := fmt.Sprintf("1..%d", len(steps))
		if len(steps) == 0 {
			valid = "none: the plan has no strategy.steps"
		}
		return Misplaced{"runs", "runs during-deploy but has no at_step: the rollout step it runs at is not known", fmt.Sprintf("add at_step: N, the strategy step it runs at (valid steps: %s)", valid)}, true
	case t.AtStep < 1 || t.AtStep > len(steps):
		fix := fmt.Sprintf("write at_step: a step from 1 to %d (strategy.steps in order)", len(steps))
		switch len(steps) {
		case 0:
			fix = "add strategy.steps, or use runs: pre-deploy or post-deploy"
		case 1:
			fix = "write at_step: 1, the plan's one strategy step"
		}
		return Misplaced{"at_step", fmt.Sprintf("runs at step %d, but the plan has %s", t.AtStep, stepCount(len(steps), "strategy step")), fix}, true
	}
	return Misplaced{}, false
}
