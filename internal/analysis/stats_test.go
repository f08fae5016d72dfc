package analysis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
)

// The SPEC example policy: error rate vs baseline +2 points over 2m with
// 200 requests and 2 consecutive analyses, p99 800 ms over 3m, every 30s.
func examplePolicy(t testing.TB) (*plan.Plan, []plan.Trigger) {
	src := "---\nanalysis: {interval: 30s}\nstrategy: {steps: [{weight: 1, bake: 5m}, {weight: 10, bake: 10m}, {weight: 50, bake: 15m}, {weight: 100}]}\ntriggers:\n  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 200, consecutive: 2}\n  - {metric: latency_p99, max: 800ms, window: 3m, consecutive: 2}\n---\n"
	p, ds := plan.Parse("x.md", "x.md", []byte(src))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	return p, p.Triggers
}

type statFigures struct {
	perWindow      int
	falseRollbacks int
	detected       int
	runs           int
}

// statistics runs runs healthy canaries (1 % errors, as the stable
// release) and runs canaries with a +2 point regression through the
// plan's exported analysis, evaluated by Prometheus's engine.
func statistics(t testing.TB, perWindow, runs int) statFigures {
	p, _ := examplePolicy(t)
	p.Service = "pay"
	// Only the error-rate trigger judges errors; latency is healthy.
	p.Triggers = p.Triggers[:1]
	checks, err := Checks(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The canary's test is measured here; the stable release's watch
	// (which the simulation keeps steady) only costs time.
	checks = slices.DeleteFunc(checks, func(c metricquery.Check) bool { return c.Stable })
	a := New(checks, p.Triggers, p.Analysis.NoData, 1)
	r := rand.New(rand.NewPCG(42, uint64(perWindow)))
	s := newSimulation(t)
	for i := 0; i < runs; i++ {
		s.write(r, fmt.Sprintf("h%d", i), perWindow, 0.01)
		s.write(r, fmt.Sprintf("b%d", i), perWindow, 0.03)
	}
	f := statFigures{perWindow: perWindow, runs: runs}
	window := p.Triggers[0].Window.D()
	for i := 0; i < runs; i++ {
		if s.firstFire(a, fmt.Sprintf("h%d", i)) >= 0 {
			f.falseRollbacks++
		}
		// Detected within 2 analysis windows of the regression's start.
		if at := s.firstFire(a, fmt.Sprintf("b%d", i)); at >= 0 && at <= 2*window {
			f.detected++
		}
	}
	return f
}

// TestStatistics checks counts, not time: at the drill's volume per
// window, healthy canaries almost never roll back and a +2 point
// regression is caught within two windows.
func TestStatistics(t *testing.T) {
	if testing.Short() {
		t.Skip("statistics run in full mode")
	}
	for _, v := range []int{StatsVolume} {
		f := statistics(t, v, 1000)
		t.Logf("%4d canary requests per window: %d false rollbacks in %d healthy canaries; +2 point regression detected within 2 windows in %d/%d", v, f.falseRollbacks, f.runs, f.detected, f.runs)
		if v == StatsVolume {
			if f.falseRollbacks > 1 {
				t.Errorf("%d false rollbacks in 1000 healthy canaries (target <= 1)", f.falseRollbacks)
			}
			if f.detected < 990 {
				t.Errorf("regression detected in %d/1000 (target >= 990)", f.detected)
			}
		}
	}
}

func BenchmarkStatistics(b *testing.B) {
	for _, v := range []int{200, 500, 1000, 1500, 2000} {
		b.Run(fmt.Sprintf("perWindow=%d", v), func(b *testing.B) {
			var f statFigures
			for b.Loop() {
				f = statistics(b, v, 1000)
			}
			b.ReportMetric(float64(f.falseRollbacks), "false-rollbacks/1000")
			b.ReportMetric(float64(f.detected)/10, "%detected-in-2-windows")
		})
	}
}
