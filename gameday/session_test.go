package gameday

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
)

// TestSessionPolicy: a session drills what rollbook export writes, so
// rollbook.yaml's promql: replaces a trigger's built-in query, and its
// lock_budget is the policy's.
func TestSessionPolicy(t *testing.T) {
	src := "---\nkind: rollout\nservice: orders\nstrategy: {steps: [{weight: 10, bake: 5m}, {weight: 100}]}\ntriggers:\n  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m}\n  - {metric: queue_depth, max: 100, window: 1m}\nrollback: {class: fast, target: 10m, automatic: true}\n---\n"
	p, ds := plan.Parse("p.md", "p.md", []byte(src))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	query := func(cs []metricquery.Check, trigger string) string {
		for _, c := range cs {
			if c.Trigger == trigger {
				return c.Query
			}
		}
		return ""
	}
	// queue_depth has no built-in query: without promql: it cannot be drilled.
	if _, err := (&Session{}).policy(p, "."); err == nil || !strings.Contains(err.Error(), "queue_depth has no PromQL mapping") {
		t.Fatalf("policy without promql: err = %v", err)
	}
	s := &Session{PromQL: map[string]string{"queue_depth": `max(queue_depth{service="{{service}}"})`, "error_rate": `sum(rate(my_errors{service="{{service}}"}[{{window}}]))`}, LockBudget: 300 * time.Millisecond, Scale: 10, Rate: 50}
	pol, err := s.policy(p, ".")
	if err != nil {
		t.Fatal(err)
	}
	if q := query(pol.Checks, "queue_depth"); q != `max(queue_depth{service="orders"})` {
		t.Errorf("queue_depth query %q", q)
	}
	if q := query(pol.Checks, "error_rate"); !strings.Contains(q, "my_errors") {
		t.Errorf("error_rate query %q does not follow promql:", q)
	}
	if pol.LockBudget != 300*time.Millisecond || pol.Scale != 10 || pol.Rate != 50 {
		t.Errorf("lock budget %s, scale %g, rate %g", pol.LockBudget, pol.Scale, pol.Rate)
	}
	if got := pol.lockBudget(Migration{}); got != 300*time.Millisecond {
		t.Errorf("a migration without its own budget is held to %s", got)
	}
}

// TestSessionDue follows due → claim → drill → release without an engine:
// the plans that are due are listed and claimed; a drill that cannot run
// (here: a plan without triggers, refused before any container starts)
// frees its claim and names the plan; a plan another runner holds is
// skipped; a dry run claims nothing.
func TestSessionDue(t *testing.T) {
	root := t.TempDir()
	reports := filepath.Join(root, "drills")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	plans := map[string]*plan.Plan{
		"content/a.md":     scheduledPlan(t, "0 10 * * TUE"),
		"content/b.md":     scheduledPlan(t, "0 10 * * TUE"),
		"content/done.md":  scheduledPlan(t, "0 10 * * TUE"),
		"content/other.md": scheduledPlan(t, "0 10 * * TUE"),
	}
	writeReport(t, reports, "content/done.md", time.Date(2026, 11, 24, 10, 5, 0, 0, time.UTC))
	// Another runner holds other.md's activation.
	for _, s := range DueDrills(map[string]*plan.Plan{"content/other.md": plans["content/other.md"]}, reports, now, time.Time{}) {
		if _, ok, err := Claim(reports, s, now); !ok || err != nil {
			t.Fatalf("claim other.md: %v %v", ok, err)
		}
	}
	claims := func() []string {
		es, _ := os.ReadDir(filepath.Join(reports, ".claims"))
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	held := claims()

	var seen, busy []string
	s := &Session{Root: root, Reports: reports, Trace: &Trace{
		Due:  func(d Scheduled) { seen = append(seen, d.File+map[bool]string{true: " due", false: " not due"}[d.Due]) },
		Busy: func(d Scheduled) { busy = append(busy, d.File) },
	}}
	if _, err := s.Due(context.Background(), plans, DueOptions{Now: now, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{"content/a.md due", "content/b.md due", "content/done.md not due", "content/other.md due"}
	if !reflect.DeepEqual(seen, want) || len(busy) > 0 || !reflect.DeepEqual(claims(), held) {
		t.Fatalf("dry run: listed %q, busy %q, claims %q; want %q and no new claim", seen, busy, claims(), want)
	}

	seen = nil
	tally, err := s.Due(context.Background(), plans, DueOptions{Now: now})
	if err == nil || !strings.HasPrefix(err.Error(), "drilling content/a.md: ") || !strings.Contains(err.Error(), "no triggers") {
		t.Fatalf("err = %v, want the first due plan's refusal", err)
	}
	if tally != (Tally{}) {
		t.Errorf("tally %+v for a drill that never ran", tally)
	}
	// The session stops at the first drill that cannot run, and frees
	// its activation for the next runner.
	if !reflect.DeepEqual(seen, want[:1]) || !reflect.DeepEqual(claims(), held) {
		t.Errorf("listed %q, claims %q; want %q and only the other runner's claim", seen, claims(), want[:1])
	}

	// With a.md and b.md drilled, only the held one is left, and skipped.
	for _, f := range []string{"content/a.md", "content/b.md"} {
		writeReport(t, reports, f, now.Add(-time.Hour))
	}
	seen = nil
	if _, err := s.Due(context.Background(), plans, DueOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(busy, []string{"content/other.md"}) {
		t.Errorf("busy %q, want other.md", busy)
	}
}
