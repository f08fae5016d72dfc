package rollout

import (
	"slices"
	"testing"
)

// TestTableIsOneMachine: every move names states of the machine, no state
// has two moves on one cause (the controller's next state is never a
// choice), every state is reached from Initial, and every state that is
// not final leads to one that is.
func TestTableIsOneMachine(t *testing.T) {
	known := map[State]bool{}
	for _, s := range States {
		if known[s.State] || s.Kind == "" {
			t.Errorf("state %s listed twice or without a kind", s.State)
		}
		known[s.State] = true
	}
	seen := map[[2]string]bool{}
	for _, tr := range Transitions {
		if !known[tr.To] || len(tr.From) == 0 {
			t.Errorf("move %s: to %q, from %v", tr.On, tr.To, tr.From)
		}
		for _, f := range tr.From {
			if !known[f] {
				t.Errorf("move %s from unknown state %q", tr.On, f)
			}
			k := [2]string{string(f), string(tr.On)}
			if seen[k] {
				t.Errorf("two moves from %s on %s", f, tr.On)
			}
			seen[k] = true
		}
		if tr.Result != "" && tr.Label == "" && tr.On != Promote {
			t.Errorf("move %s has what it leaves (%q) but no label for its arrow", tr.On, tr.Result)
		}
	}
	reached := map[State]bool{Initial: true}
	for changed := true; changed; {
		changed = false
		for _, tr := range Transitions {
			if !reached[tr.To] && slices.ContainsFunc(tr.From, func(s State) bool { return reached[s] }) {
				reached[tr.To], changed = true, true
			}
		}
	}
	for s := range known {
		if !reached[s] {
			t.Errorf("%s cannot be reached from %s", s, Initial)
		}
	}
	ends := map[State]bool{}
	for s := range known {
		if s.Final() {
			ends[s] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, tr := range Transitions {
			for _, f := range tr.From {
				if ends[tr.To] && !ends[f] {
					ends[f], changed = true, true
				}
			}
		}
	}
	for s := range known {
		if !ends[s] {
			t.Errorf("from %s no move leads to a final state", s)
		}
	}
}

// TestFinalStates: a release ends promoted, rolled back or halted, as
// every report and `gameday due` read it; nothing else is final.
func TestFinalStates(t *testing.T) {
	var final []State
	for _, s := range States {
		if s.State.Final() {
			final = append(final, s.State)
		}
	}
	if want := []State{Promoted, RolledBack, Halted}; !slices.Equal(final, want) {
		t.Errorf("final states %v, want %v", final, want)
	}
}

func TestNextAndLabel(t *testing.T) {
	for _, tt := range []struct {
		from State
		on   Cause
		to   State
		ok   bool
	}{
		{Pending, Step, Progressing, true},
		{Baking, Rollback, RollingBack, true},
		{Progressing, Rollback, RollingBack, true},
		{RollingBack, StableVerified, RolledBack, true},
		{Pending, Rollback, "", false},
		{Promoted, Step, "", false},
		{Baking, MigrationBrokeStable, "", false},
	} {
		if to, ok := Next(tt.from, tt.on); to != tt.to || ok != tt.ok {
			t.Errorf("Next(%s, %s) = %q, %v; want %q, %v", tt.from, tt.on, to, ok, tt.to, tt.ok)
		}
	}
	if got := RollingBack.Label(); got != "rolling back" {
		t.Errorf("label %q", got)
	}
	if got := Halted.Kind(); got != KindHalt {
		t.Errorf("kind %q", got)
	}
}
