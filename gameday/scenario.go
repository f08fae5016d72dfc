package gameday

import (
	"fmt"
	"strings"
	"time"
)

// Scenarios are the drills of SPEC 3, in the order they run.
var Scenarios = []string{"bad-canary-errors", "bad-canary-latency", "healthy-canary", "incompatible-migration", "stuck-rollback", "freeze"}

// scenario says what a drill injects.
type scenario struct {
	name          string
	canaryErrors  float64       // 5xx rate at the fault injector
	canaryLatency time.Duration // added latency
	contract      bool          // the canary ships a contract migration
	stableBroken  bool          // the stable release reports unhealthy
	freeze        bool
}

func lookupScenario(name string) (scenario, error) {
	switch name {
	case "bad-canary-errors":
		return scenario{name: name, canaryErrors: 0.3}, nil
	case "bad-canary-latency":
		return scenario{name: name, canaryLatency: 1200 * time.Millisecond}, nil
	case "healthy-canary":
		return scenario{name: name}, nil
	case "incompatible-migration":
		return scenario{name: name, canaryErrors: 0.3, contract: true}, nil
	case "stuck-rollback":
		return scenario{name: name, canaryErrors: 0.3, stableBroken: true}, nil
	case "freeze":
		return scenario{name: name, canaryErrors: 0.3, freeze: true}, nil
	}
	return scenario{}, fmt.Errorf("unknown scenario %q: use one of %s", name, strings.Join(Scenarios, ", "))
}

// Assertion is one check of a drill, with what was seen.
type Assertion struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
}

// facts are what assertions look at, read from the controller afterwards.
type facts struct {
	final         State
	pages         int
	pageText      string
	injectedAt    time.Duration
	triggerAt     time.Duration
	trigger       string
	rolledBackAt  time.Duration
	rollbacks     int
	weightAtTrig  int
	finalWeight   int
	weightRaised  bool // a weight above 0 set after the rollback began
	canaryStopped bool
	afterErrRate  float64
	baseErrRate   float64
	afterCanary   float64
}

func collect(evs []Event) facts {
	f := facts{injectedAt: -1, triggerAt: -1, rolledBackAt: -1}
	rollingBack := false
	weight := 0
	for _, e := range evs {
		switch e.Type {
		case "injection":
			if f.injectedAt < 0 {
				f.injectedAt = e.At
			}
		case "trigger":
			if f.triggerAt < 0 {
				f.triggerAt = e.At
				f.weightAtTrig = weight
				if len(e.Results) > 0 {
					f.trigger = e.Results[0].Trigger
				}
			}
		case "traffic":
			var w int
			fmt.Sscanf(e.Message, "traffic: canary %d%%", &w)
			weight = w
			if rollingBack && w > 0 {
				f.weightRaised = true
			}
		case "state":
			if e.State == RollingBack {
				rollingBack = true
				f.rollbacks++
			}
			if e.State == RolledBack {
				f.rolledBackAt = e.At
			}
			f.final = e.State
		case "page":
			if strings.HasPrefix(e.Message, "paged:") {
				f.pages++
				f.pageText += e.Message + "\n"
			}
		case "action":
			if e.Message == "canary stopped" {
				f.canaryStopped = true
			}
		}
	}
	f.finalWeight = weight
	return f
}

func check(name string, ok bool, format string, args ...any) Assertion {
	return Assertion{Name: name, Passed: ok, Message: fmt.Sprintf(format, args...)}
}

// assertions returns what the scenario must show (SPEC 3 table).
func (s scenario) assertions(p Policy, f facts) []Assertion {
	var out []Assertion
	fired := f.triggerAt >= 0
	triggerLimit := func() time.Duration {
		var w time.Duration
		for _, t := range p.Triggers {
			if t.Metric == f.trigger || w == 0 {
				w = p.D(t.Window.D()) + time.Duration(t.Consecutives()+1)*p.D(p.Interval)
			}
		}
		return w
	}
	ttd := f.triggerAt - f.injectedAt
	switch s.name {
	case "bad-canary-errors", "bad-canary-latency":
		want := "error"
		if s.name == "bad-canary-latency" {
			want = "latency"
		}
		out = append(out, check("trigger fires", fired && strings.Contains(f.trigger, want), "trigger %q fired %s after injection", f.trigger, ttd.Round(time.Millisecond)))
		if fired {
			out = append(out, check("trigger fires within its window", ttd <= triggerLimit()+p.D(p.maxWindow()), "time to detect %s, limit %s (window, consecutive analyses and one interval, in drill time)", ttd.Round(time.Millisecond), (triggerLimit()+p.D(p.maxWindow())).Round(time.Millisecond)))
		}
		ttr := f.rolledBackAt - f.triggerAt
		target := p.D(p.Rollback.Target.D())
		out = append(out, check("rollback completes within rollback.target", f.final == RolledBack && f.rolledBackAt >= 0 && (target == 0 || ttr <= target), "final state %s, time to roll back %s, target %s (%s in plan time)", f.final, ttr.Round(time.Millisecond), target.Round(time.Millisecond), p.Rollback.Target))
		out = append(out, check("traffic back on stable", f.finalWeight == 0 && f.canaryStopped, "canary weight %d%%, canary stopped: %v", f.finalWeight, f.canaryStopped))
		out = append(out, check("errors back to baseline", f.afterCanary == 0 && f.afterErrRate <= f.baseErrRate+0.01, "after the rollback: %.2f%% errors (baseline %.2f%%), %.0f canary requests", f.afterErrRate*100, f.baseErrRate*100, f.afterCanary))
	case "healthy-canary":
		out = append(out, check("no trigger fires", !fired, "trigger fired: %v %s", fired, f.trigger))
		out = append(out, check("canary promoted to 100%", f.final == Promoted && f.finalWeight == 100, "final state %s at %d%%", f.final, f.finalWeight))
	case "incompatible-migration":
		out = append(out, check("trigger fires", fired, "trigger %q fired", f.trigger))
		out = append(out, check("automatic rollback is blocked", f.rollbacks == 0 && f.final == Halted, "rollbacks started: %d, final state %s", f.rollbacks, f.final))
		out = append(out, check("a page is sent with the reason", f.pages >= 1 && strings.Contains(f.pageText, "migration"), "pages: %d: %s", f.pages, strings.TrimSpace(f.pageText)))
		out = append(out, check("traffic stays put", f.finalWeight == f.weightAtTrig && !f.canaryStopped, "weight at trigger %d%%, at the end %d%%, canary stopped: %v", f.weightAtTrig, f.finalWeight, f.canaryStopped))
	case "stuck-rollback":
		out = append(out, check("rollback attempted once", f.rollbacks == 1, "rollbacks started: %d", f.rollbacks))
		out = append(out, check("then halted and paged", f.final == Halted && f.pages >= 1, "final state %s, pages %d", f.final, f.pages))
		out = append(out, check("no thrashing", !f.weightRaised, "canary weight raised again after the rollback began: %v", f.weightRaised))
	case "freeze":
		out = append(out, check("trigger fires", fired, "trigger %q fired", f.trigger))
		out = append(out, check("no automatic action", f.rollbacks == 0 && f.finalWeight == f.weightAtTrig && !f.canaryStopped, "rollbacks %d, weight %d%% → %d%%, canary stopped %v", f.rollbacks, f.weightAtTrig, f.finalWeight, f.canaryStopped))
		out = append(out, check("page sent", f.pages >= 1 && strings.Contains(f.pageText, "freeze"), "pages: %d: %s", f.pages, strings.TrimSpace(f.pageText)))
	}
	return out
}
