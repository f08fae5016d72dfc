package drillreport

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Engine names the controller that ran a drill's rollout.
type Engine string

const (
	// EngineBuiltin is rollbook's own state machine (internal/rollout).
	EngineBuiltin Engine = "builtin"
	// EngineArgo is the Argo Rollouts controller, running the manifests
	// `rollbook export argo` writes.
	EngineArgo Engine = "argo"
)

// Engines lists the engines, in the order pages show them.
var Engines = []Engine{EngineBuiltin, EngineArgo}

// EngineOf is the engine that ran r (the built-in one for older reports).
func (r *Report) EngineOf() Engine {
	if r.Engine == "" {
		return EngineBuiltin
	}
	return r.Engine
}

// ArgoRun is how the Argo engine ran a drill.
type ArgoRun struct {
	// Rollout is the Rollout's name.
	Rollout string `json:"rollout"`
	// Changes lists what the drill filled into or changed in the
	// exported manifests (the Prometheus address, the pods, the time
	// scale), each with why.
	Changes []string `json:"changes,omitempty"`
	// Startup is the cluster's start, from exec to ready; Components
	// each component's part of it.
	Startup    time.Duration            `json:"startup_ns"`
	Components map[string]time.Duration `json:"components_ns,omitempty"`
}

// Disagreement is one way two engines' drills of the same scenario differ.
type Disagreement struct {
	// What differs: "verdict", "trigger" or "order".
	What DisagreementKind `json:"what"`
	// This and Other say what each engine's drill did.
	This  string `json:"this"`
	Other string `json:"other"`
	// OtherEngine ran OtherRunID (report OtherFile, if read from one),
	// whose timeline OtherTimeline is.
	OtherEngine   Engine  `json:"other_engine"`
	OtherRunID    string  `json:"other_run_id"`
	OtherFile     string  `json:"other_file,omitempty"`
	OtherTimeline []Event `json:"other_timeline,omitempty"`
}

// DisagreementKind is what two drills disagree on.
type DisagreementKind string

const (
	DisagreeVerdict DisagreementKind = "verdict" // passed, or the final state
	DisagreeTrigger DisagreementKind = "trigger" // which trigger fired first, or whether one did
	DisagreeOrder   DisagreementKind = "order"   // the order of the milestones both reached
)

// Compare lists where other (another engine's drill of the same plan and
// scenario) disagrees with r: the verdict, the trigger that fired first,
// and the order of the milestones both timelines reached (the fault, the
// trigger, the rollback's start, the canary's removal, the final state).
// Times are not compared: two controllers poll at their own pace.
func Compare(r, other *Report) []Disagreement {
	base := Disagreement{OtherEngine: other.EngineOf(), OtherRunID: other.RunID, OtherFile: other.File, OtherTimeline: other.Timeline}
	var out []Disagreement
	add := func(k DisagreementKind, this, that string) {
		d := base
		d.What, d.This, d.Other = k, this, that
		out = append(out, d)
	}
	if v, w := verdictOf(r), verdictOf(other); v != w {
		add(DisagreeVerdict, v, w)
	}
	if t, u := firstTrigger(r.Timeline), firstTrigger(other.Timeline); t != u {
		add(DisagreeTrigger, triggerText(t), triggerText(u))
	}
	a, b := milestones(r.Timeline), milestones(other.Timeline)
	common := func(xs, ys []string) []string {
		var out []string
		for _, x := range xs {
			if slices.Contains(ys, x) {
				out = append(out, x)
			}
		}
		return out
	}
	if ca, cb := common(a, b), common(b, a); !slices.Equal(ca, cb) {
		add(DisagreeOrder, strings.Join(ca, " → "), strings.Join(cb, " → "))
	}
	return out
}

func verdictOf(r *Report) string {
	v := "failed"
	if r.Passed {
		v = "passed"
	}
	return fmt.Sprintf("%s (final state %s)", v, r.FinalState)
}

func firstTrigger(evs []Event) string {
	for _, e := range evs {
		if e.Type == EventTrigger {
			return e.Trigger
		}
	}
	return ""
}

func triggerText(t string) string {
	if t == "" {
		return "no trigger fired"
	}
	return "trigger " + t + " fired first"
}

// milestones are the timeline's landmarks, each once, in the order they
// were first reached.
func milestones(evs []Event) []string {
	var out []string
	add := func(m string) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	for _, e := range evs {
		switch {
		case e.Type == EventInjection:
			add("fault injected")
		case e.Type == EventTrigger:
			add("trigger fired")
		case e.Type == EventAction && e.Action == ActionCanaryStopped:
			add("canary stopped")
		case e.Type == EventState && e.State == RollingBack:
			add("rollback started")
		case e.Type == EventState && e.State.Final():
			add("final: " + string(e.State))
		}
	}
	return out
}
