package check

import (
	"reflect"
	"testing"

	"github.com/rollbook/rollbook/internal/diag"
)

func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.Name] {
			t.Errorf("rule %s is registered twice", r.Name)
		}
		seen[r.Name] = true
		if r.Severity != diag.Error && r.Severity != diag.Warning || r.Checks == "" {
			t.Errorf("rule %s: severity %q, checks %q", r.Name, r.Severity, r.Checks)
		}
	}
	if _, ok := Lookup("broken-link"); !ok {
		t.Error("broken-link is not registered")
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("nope is registered")
	}
}

func TestSeveritiesApply(t *testing.T) {
	f := func(rule string, sev, def diag.Severity) diag.Finding {
		return diag.Finding{File: "content/x.md", Line: 1, Rule: rule, Severity: sev, Default: def}
	}
	in := diag.List{f("broken-link", diag.Error, ""), f("stale-review", diag.Warning, ""), f("unknown-key", diag.Warning, ""), f("approvals", diag.Error, "")}
	s := Severities{"broken-link": diag.Warning, "stale-review": Off, "unknown-key": diag.Error, "approvals": diag.Error}
	want := diag.List{f("broken-link", diag.Warning, diag.Error), f("unknown-key", diag.Error, diag.Warning), f("approvals", diag.Error, "")}
	got := s.Apply(in)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Apply:\n got %v\nwant %v", got, want)
	}
	if again := s.Apply(got); !reflect.DeepEqual(again, want) {
		t.Fatalf("Apply twice:\n got %v\nwant %v", again, want)
	}
	if in[0].Severity != diag.Error {
		t.Fatal("Apply changed its input")
	}
	if got := Severities(nil).Apply(in); !reflect.DeepEqual(got, in) {
		t.Fatal("no rules changed findings")
	}
}
