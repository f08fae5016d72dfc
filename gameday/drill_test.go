package gameday

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/drillenv"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/scenario"
)

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// examplePlan parses rel, a plan under content/, and returns it with its
// file's path; a plan with errors fails the test.
func examplePlan(t testing.TB, rel string) (*plan.Plan, string) {
	t.Helper()
	file := filepath.Join(moduleRoot(), "content", filepath.FromSlash(rel))
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, ds := plan.Parse(file, rel, src)
	if len(ds.Errors()) > 0 {
		t.Fatal(ds)
	}
	return p, file
}

// examplePlanPolicy is the drill policy of rel, a plan under content/.
func examplePlanPolicy(t testing.TB, rel string) Policy {
	t.Helper()
	p, file := examplePlan(t, rel)
	pol, err := PolicyFromPlan(p, filepath.Dir(file), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

func examplePolicy(t testing.TB) Policy {
	t.Helper()
	pol := examplePlanPolicy(t, "payments/api-2-4-canary.md")
	// These drills run the built-in demo service; TestDrillsOwnService
	// runs the plan's own.
	pol.OwnService = nil
	return pol
}

// TestDrills runs every scenario of SPEC 3 against real containers.
func TestDrills(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := drillenv.CheckDocker(ctx); err != nil {
		if os.Getenv("ROLLBOOK_REQUIRE_DOCKER") == "1" {
			t.Fatalf("ROLLBOOK_REQUIRE_DOCKER=1 but: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	start := time.Now()
	bin := filepath.Join(t.TempDir(), "rollbook-agent")
	if err := drillenv.BuildAgentBinary(ctx, moduleRoot(), bin); err != nil {
		t.Fatal(err)
	}
	agent, db, err := Images(ctx, bin, "")
	if err != nil {
		t.Fatal(err)
	}
	promImage, err := PrometheusImage(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	pol := examplePolicy(t)
	exported := argoMetrics(t, "payments/api-2-4-canary.md")
	t.Logf("images ready in %s; time scale %.0f, rate %.0f/s", time.Since(start).Round(time.Millisecond), pol.Scale, pol.Rate)
	out := t.TempDir()
	for _, sc := range Scenarios {
		if only := os.Getenv("ROLLBOOK_SCENARIO"); only != "" && only != sc {
			continue
		}
		if def, _ := scenario.Lookup(sc); slices.Contains(def.Needs, scenario.AppliedMigration) {
			t.Logf("%s needs migrations the drill applies on the team's own service: TestMigrationsUnderLoad drills it", sc)
			continue
		}
		t.Run(sc, func(t *testing.T) {
			s := time.Now()
			var back *Report
			var backErr error
			opts := RunOptions{Policy: pol, Scenario: sc, AgentImage: agent, DBImage: db, PrometheusImage: promImage}
			if sc == "bad-canary-errors" || sc == "healthy-canary" {
				// Backtest the drill's own Prometheus, where the answer is known.
				opts.AfterRun = func(ctx context.Context, url string, start time.Time) {
					back, backErr = Backtest(ctx, BacktestOptions{Policy: pol, Prometheus: url, From: start, To: time.Now()})
				}
			}
			rep, err := Run(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range rep.Assertions {
				if !a.Passed {
					t.Errorf("%s: %s", a.Name, a.Message)
				}
			}
			if len(rep.Leftovers) > 0 {
				t.Errorf("leftovers: %v", rep.Leftovers)
			}
			if opts.AfterRun != nil {
				checkBacktest(t, pol, rep, back, backErr)
				if back != nil {
					evaluatedExported(t, pol, back, exported)
				}
			}
			if n := evaluatedExported(t, pol, rep, exported); n == 0 && sc != "metrics-missing" {
				t.Error("no analysis with a verdict on the timeline")
			}
			if left, err := drillenv.Leftovers(ctx, rep.RunID); err != nil || len(left) > 0 {
				t.Errorf("leftovers after the drill: %v %v", left, err)
			}
			if _, _, err := WriteReport(rep, out); err != nil {
				t.Error(err)
			}
			if !rep.Passed && !t.Failed() {
				t.Errorf("report failed: %s", rep.Error)
			}
			if t.Failed() {
				for _, e := range rep.Timeline {
					t.Logf("%s %s %s", e.AtText, e.Type, e.Message)
				}
			}
			t.Logf("%s: %s in %s (TTD %v, TTR %v)", sc, rep.FinalState, time.Since(s).Round(time.Millisecond), deref(rep.TTD), deref(rep.TTR))
		})
	}
	t.Logf("%d scenarios, images included: %s", len(Scenarios), time.Since(start).Round(time.Millisecond))

	t.Run("timeout cleans up", func(t *testing.T) {
		rep, err := Run(ctx, RunOptions{Policy: pol, Scenario: "healthy-canary", AgentImage: agent, DBImage: db, PrometheusImage: promImage, Timeout: 15 * time.Second})
		if err == nil {
			t.Fatal("a 15s limit on a 30s drill did not time out")
		}
		if rep == nil {
			t.Skipf("timed out before the containers were up: %v", err)
		}
		if left, lerr := drillenv.Leftovers(ctx, rep.RunID); lerr != nil || len(left) > 0 {
			t.Errorf("leftovers after a timeout: %v %v", left, lerr)
		}
	})
	t.Run("panic in the controller cleans up", func(t *testing.T) {
		var runID string
		rep, err := Run(ctx, RunOptions{Policy: pol, Scenario: "bad-canary-errors", AgentImage: agent, DBImage: db, PrometheusImage: promImage, OnEvent: func(e Event) {
			if e.Type == drillreport.EventTrigger {
				panic("injected controller bug")
			}
		}})
		if rep != nil {
			runID = rep.RunID
		}
		if err == nil || !strings.Contains(err.Error(), "panicked") {
			t.Fatalf("err = %v", err)
		}
		if runID == "" {
			t.Fatal("no run id seen")
		}
		if left, lerr := drillenv.Leftovers(ctx, runID); lerr != nil || len(left) > 0 {
			t.Errorf("leftovers after a panic: %v %v", left, lerr)
		}
	})
}

func deref(p *float64) any {
	if p == nil {
		return "-"
	}
	return *p
}

// checkBacktest compares a backtest of the drill's own Prometheus with
// the drill: the same trigger fires at about the same time, or none does.
func checkBacktest(t *testing.T, pol Policy, rep, back *Report, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("backtest: %v", err)
	}
	if back.Backtest == nil || back.Scenario != "backtest" {
		t.Fatalf("the backtest report is not marked as one: %+v", back.Backtest)
	}
	f := collect(rep.Timeline, 0)
	if f.triggerAt < 0 {
		if back.Backtest.FiredAt != nil {
			t.Errorf("the drill fired nothing, the backtest fired at %s", back.Backtest.FiredAt.Sub(back.Backtest.From))
		}
		return
	}
	if back.Backtest.FiredAt == nil {
		t.Fatalf("the drill fired %s at %s, the backtest nothing", f.trigger, f.triggerAt)
	}
	got := back.Backtest.FiredAt.Sub(back.Backtest.From)
	// Steps of the backtest and the drill's sleeps do not line up: allow
	// three analysis intervals either way (the drill's analyses also wait
	// for their queries on a busy machine).
	if d := got - f.triggerAt; d < -3*interval(pol) || d > 3*interval(pol) {
		t.Errorf("the drill fired at %s, the backtest at %s", f.triggerAt, got)
	}
	if bf := collect(back.Timeline, 0); bf.trigger != f.trigger {
		t.Errorf("the drill fired %s, the backtest %s", f.trigger, bf.trigger)
	}
	t.Logf("backtest of the drill's Prometheus: fired %s at %s (drill: %s)", f.trigger, got.Round(time.Millisecond), f.triggerAt.Round(time.Millisecond))
}
