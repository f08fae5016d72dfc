// Package rollout is the state machine a release follows under a plan's
// rollout and rollback policy, as one table: its states, and each move
// between them with the cause that makes it. The drill's controller
// (gameday) follows the table, naming only what happened; the plan page's
// drawing (statesvg) draws it. A move that is not in the table is a bug
// in the controller, not a new path through the drawing.
package rollout

import (
	"slices"
	"strings"
)

// State is where a release is.
type State string

const (
	Pending     State = "pending"
	Progressing State = "progressing" // the canary's weight is moving to a step's
	Baking      State = "baking"      // the analysis watches a step's weight
	Promoted    State = "promoted"
	RollingBack State = "rolling-back"
	RolledBack  State = "rolled-back"
	Halted      State = "halted" // traffic left where it is, a human paged
)

// Initial is where every release starts.
const Initial = Pending

// Kind says how a state stands for the release, for a drawing's colour.
type Kind string

const (
	KindStart    Kind = "start"
	KindProgress Kind = "progress"
	KindGood     Kind = "good" // ended with users on a healthy release
	KindRollback Kind = "rollback"
	KindHalt     Kind = "halt"
)

// States are the machine's states in the order of a release.
var States = []struct {
	State State
	Kind  Kind
}{
	{Pending, KindStart},
	{Progressing, KindProgress},
	{Baking, KindProgress},
	{Promoted, KindGood},
	{RollingBack, KindRollback},
	{RolledBack, KindGood},
	{Halted, KindHalt},
}

// Cause is what moves a release from one state to the next.
type Cause string

const (
	// Step: the canary's weight is set to the next step's.
	Step Cause = "step"
	// Bake: the analysis starts watching the weight for the step's bake
	// (or the bake after the post-deploy migrations).
	Bake Cause = "bake"
	// Promote: the last step passed; the canary serves everyone.
	Promote Cause = "promote"
	// Rollback: a trigger fired and no guard stands in the way of an
	// automatic rollback.
	Rollback Cause = "rollback"
	// StableVerified: all traffic is back on the stable release, the
	// canary is stopped and the stable release answers ready.
	StableVerified Cause = "stable-verified"
	// RollbackFailed: traffic could not be moved back, the canary not
	// stopped, or the stable release stayed unhealthy past the rollback
	// target. No retry: flipping back to the canary would only thrash.
	RollbackFailed Cause = "rollback-failed"
	// Freeze: a trigger fired while the freeze switch is on.
	Freeze Cause = "freeze"
	// MigrationGuard: a trigger fired after a migration that the stable
	// release cannot run against: rolling back would break it.
	MigrationGuard Cause = "migration-guard"
	// AutomaticOff: a trigger fired and the plan leaves the rollback to a
	// human (rollback.automatic: false).
	AutomaticOff Cause = "automatic-off"
	// CapReached: a trigger fired and rollback.max_automatic is used up.
	CapReached Cause = "cap-reached"
	// StableRegressed: the stable release is worse than its own level
	// before the rollout: neither way is safe.
	StableRegressed Cause = "stable-regressed"
	// NoData: the analysis had no verdict (analysis.no_data: hold).
	NoData Cause = "no-data"
	// TrafficFailed: the router did not take a weight.
	TrafficFailed Cause = "traffic-failed"
	// MigrationFailed: one of the plan's migrations failed to apply.
	MigrationFailed Cause = "migration-failed"
	// MigrationBrokeStable: a migration broke the stable release while
	// it served traffic.
	MigrationBrokeStable Cause = "migration-broke-stable"
)

// Transition is one move of the machine: from any of From, on a cause,
// to a state.
type Transition struct {
	From []State
	On   Cause
	To   State
	// Label is what a drawing writes on the move's arrow, and Result
	// what holds once it is made (under the state it leads to); both
	// only for the moves a drawing shows.
	Label, Result string
}

// underWay are the states a release is under way in: a migration can run
// in each (pre-deploy while pending, during-deploy at a step, post-deploy
// after the last step), and so fail.
var underWay = []State{Pending, Progressing, Baking}

// decided are the states a fired trigger is decided in: during a bake, or
// right after a migration that broke the canary (at its step, before the
// bake).
var decided = []State{Progressing, Baking}

// Transitions is the machine. The order of the moves out of one state is
// the order a drawing lays them out in.
var Transitions = []Transition{
	{From: []State{Pending, Baking}, On: Step, To: Progressing},
	{From: []State{Progressing, Baking}, On: Bake, To: Baking},
	{From: []State{Progressing, Baking}, On: Promote, To: Promoted, Result: "100% new release"},
	{From: decided, On: Rollback, To: RollingBack, Label: "trigger fires", Result: "100% stable"},
	{From: []State{RollingBack}, On: StableVerified, To: RolledBack, Label: "verified", Result: "canary stopped"},
	{From: []State{RollingBack}, On: RollbackFailed, To: Halted, Label: "fails, or stable unhealthy: no retry", Result: "rollback fails: page"},
	{From: decided, On: Freeze, To: Halted, Label: "freeze on: no automatic action, page only"},
	{From: decided, On: MigrationGuard, To: Halted, Label: "migration guard: page a human", Result: "traffic stays put"},
	{From: decided, On: AutomaticOff, To: Halted, Label: "trigger: page, human decides", Result: "human decides"},
	{From: decided, On: CapReached, To: Halted},
	{From: []State{Baking}, On: StableRegressed, To: Halted},
	{From: []State{Progressing, Baking}, On: NoData, To: Halted},
	{From: []State{Progressing, Baking}, On: TrafficFailed, To: Halted},
	{From: underWay, On: MigrationFailed, To: Halted},
	// A post-deploy migration runs at 100%: the stable release serves
	// nothing then, so only one before it can break it for users.
	{From: []State{Pending, Progressing}, On: MigrationBrokeStable, To: Halted},
}

// Next is the state a release in from moves to on cause, and false when
// the machine has no such move.
func Next(from State, on Cause) (State, bool) {
	if t, ok := Move(from, on); ok {
		return t.To, true
	}
	return "", false
}

// Move is the transition out of from on cause.
func Move(from State, on Cause) (Transition, bool) {
	for _, t := range Transitions {
		if t.On == on && t.leaves(from) {
			return t, true
		}
	}
	return Transition{}, false
}

// Out returns the moves out of s, in table order.
func Out(s State) []Transition {
	var out []Transition
	for _, t := range Transitions {
		if t.leaves(s) {
			out = append(out, t)
		}
	}
	return out
}

func (t Transition) leaves(s State) bool { return slices.Contains(t.From, s) }

// Final reports whether nothing happens after s: the machine has no move
// out of it.
func (s State) Final() bool {
	return !slices.ContainsFunc(Transitions, func(t Transition) bool { return t.leaves(s) })
}

// Kind is how s stands for the release.
func (s State) Kind() Kind {
	for _, st := range States {
		if st.State == s {
			return st.Kind
		}
	}
	return ""
}

// Label is how s reads in a drawing: "rolling back".
func (s State) Label() string { return strings.ReplaceAll(string(s), "-", " ") }
