package drillreport

import (
	"strings"
	"testing"
)

func timeline(kinds ...string) []Event {
	var evs []Event
	for _, k := range kinds {
		switch {
		case k == "inject":
			evs = append(evs, Event{Type: EventInjection})
		case strings.HasPrefix(k, "trigger:"):
			evs = append(evs, Event{Type: EventTrigger, Trigger: strings.TrimPrefix(k, "trigger:")})
		case k == "rollback":
			evs = append(evs, Event{Type: EventState, State: RollingBack})
		case k == "stopped":
			evs = append(evs, Event{Type: EventAction, Action: ActionCanaryStopped})
		default:
			evs = append(evs, Event{Type: EventState, State: State(k)})
		}
	}
	return evs
}

// Two engines' drills of one scenario: what they disagree on, and
// nothing where they agree (times aside).
func TestCompare(t *testing.T) {
	rolledBack := &Report{Passed: true, FinalState: RolledBack, Timeline: timeline("inject", "trigger:error_rate", "rollback", "stopped", string(RolledBack))}
	cases := []struct {
		name  string
		other *Report
		want  []DisagreementKind
		text  string
	}{
		{"agree", &Report{Passed: true, FinalState: RolledBack, Engine: EngineBuiltin, Timeline: timeline("inject", "trigger:error_rate", "rollback", "stopped", string(RolledBack))}, nil, ""},
		{"another trigger", &Report{Passed: true, FinalState: RolledBack, Timeline: timeline("inject", "trigger:latency_p99", "rollback", "stopped", string(RolledBack))}, []DisagreementKind{DisagreeTrigger}, "trigger latency_p99 fired first"},
		{"halted", &Report{Passed: false, FinalState: Halted, Timeline: timeline("inject", string(Halted))}, []DisagreementKind{DisagreeVerdict, DisagreeTrigger}, "failed (final state halted)"},
		{"stopped before the rollback began", &Report{Passed: true, FinalState: RolledBack, Timeline: timeline("inject", "trigger:error_rate", "stopped", "rollback", string(RolledBack))}, []DisagreementKind{DisagreeOrder}, "canary stopped → rollback started"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := Compare(&Report{Engine: EngineArgo, Passed: rolledBack.Passed, FinalState: rolledBack.FinalState, Timeline: rolledBack.Timeline}, c.other)
			var kinds []DisagreementKind
			var text []string
			for _, d := range ds {
				kinds = append(kinds, d.What)
				text = append(text, d.This+" | "+d.Other)
				if d.OtherEngine != EngineBuiltin || len(d.OtherTimeline) != len(c.other.Timeline) {
					t.Errorf("disagreement with %s, %d events of its timeline; want the built-in engine's whole timeline", d.OtherEngine, len(d.OtherTimeline))
				}
			}
			if strings.Join(kindStrings(kinds), ",") != strings.Join(kindStrings(c.want), ",") {
				t.Errorf("disagreements %v, want %v", kinds, c.want)
			}
			if c.text != "" && !strings.Contains(strings.Join(text, "\n"), c.text) {
				t.Errorf("disagreements say %q, want %q in them", text, c.text)
			}
		})
	}
}

func kindStrings(ks []DisagreementKind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}
