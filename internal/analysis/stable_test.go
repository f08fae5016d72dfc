package analysis

// The watch on the stable release (metricquery.StableRegression), its
// exported query evaluated by Prometheus's engine over simulated traffic.

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/promsim"
)

// regime is one release's traffic from a moment on: requests per second
// failing with probability err.
type regime struct {
	from time.Duration // since the rollout's start (negative: before it)
	rps  float64
	err  float64
}

// traffic writes both releases' counters every 15 s from 40 minutes
// before start to end, each release following its regimes.
func traffic(t *testing.T, seed uint64, start time.Time, end time.Duration, stable, canary []regime) *promsim.Store {
	t.Helper()
	q := promsim.New(metricquery.ReleaseLabel, 5*time.Minute)
	r := rand.New(rand.NewPCG(seed, 7))
	const scrape = 15 * time.Second
	var cs, cc counters
	now := func(rs []regime, at time.Duration) regime {
		var cur regime
		for _, x := range rs {
			if at >= x.from {
				cur = x
			}
		}
		return cur
	}
	for at := -40 * time.Minute; at <= end; at += scrape {
		for _, rel := range []struct {
			hash string
			rs   []regime
			c    *counters
		}{{"stable", stable, &cs}, {"canary", canary, &cc}} {
			x := now(rel.rs, at)
			if x.rps <= 0 {
				continue
			}
			draw(r, rel.c, int(x.rps*scrape.Seconds()), x.err)
			for code, v := range map[string]float64{"200": rel.c.ok, "500": rel.c.bad} {
				if err := q.Add(start.Add(at), v, "__name__", metricquery.RequestsTotal, "code", code, metricquery.ReleaseLabel, rel.hash, "service", "pay"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return q
}

func stablePlan(t *testing.T, triggers string) *plan.Plan {
	t.Helper()
	src := "---\nkind: rollout\nservice: pay\nanalysis: {interval: 30s, no_data: {after: 1}}\nstrategy: {steps: [{weight: 10, bake: 30m}, {weight: 100}]}\ntriggers:\n" + triggers + "---\n"
	p, ds := plan.Parse("x.md", "x.md", []byte(src))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	return p
}

const baselineTrigger = "  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 200, consecutive: 2}\n"

// observeUntil measures every 30 s of the first step (from start, the
// analyzer reset there) and returns the results by trigger.
func observeUntil(a *Analyzer, q Querier, start time.Time, end time.Duration) map[string][]Result {
	out := map[string][]Result{}
	a.Reset(start)
	for at := 30 * time.Second; at <= end; at += 30 * time.Second {
		for _, r := range a.Observe(context.Background(), q, start.Add(at), true) {
			out[r.Trigger] = append(out[r.Trigger], r)
		}
	}
	return out
}

func firstFired(rs []Result) int {
	return slices.IndexFunc(rs, func(r Result) bool { return r.Fired })
}

// A stable release whose error ratio jumps from 0.5 % to 40 % ten minutes
// into the rollout (a contract migration under the old release) fires the
// stable watch within its window; the canary's baseline test, which
// compares the canary with that stable release, stays blind to it.
func TestStableRegressionFires(t *testing.T) {
	a, err := NewAnalyzer(stablePlan(t, baselineTrigger), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	jump := 10 * time.Minute
	q := traffic(t, 1, start, 20*time.Minute,
		[]regime{{-40 * time.Minute, 18, 0.005}, {jump, 18, 0.40}},
		[]regime{{0, 2, 0.005}})
	got := observeUntil(a, q, start, 20*time.Minute)
	st := got["stable_error_rate"]
	if len(st) == 0 {
		t.Fatalf("no stable_error_rate results: %v", got)
	}
	i := firstFired(st)
	if i < 0 {
		t.Fatalf("the stable watch never fired; last: %+v", st[len(st)-1])
	}
	at := time.Duration(i+1) * 30 * time.Second
	t.Logf("fired %s after the jump: %s", at-jump, st[i].Reason)
	if at < jump || at-jump > 2*time.Minute {
		t.Errorf("fired %s into the rollout, %s after the jump; want within the 2m window after %s", at, at-jump, jump)
	}
	r := st[i]
	if !r.Stable || r.Unit != "ratio" || r.Value < 0.02 || r.Threshold != 0.02 || !strings.Contains(r.Reason, "stable release") {
		t.Errorf("fired result %+v", r)
	}
	for _, want := range []string{`rollouts_pod_template_hash="stable"`, "[32m] offset 2m"} {
		if !strings.Contains(r.Query, want) {
			t.Errorf("query lacks %s: %s", want, r.Query)
		}
	}
	for k, r := range st[:i] {
		if r.Verdict == metricquery.Fail && time.Duration(k+1)*30*time.Second < jump {
			t.Errorf("failed before the jump: %+v", r)
		}
	}
	// The first window of the step is pending, as for every check.
	// (measurements at 30s, 1m and 1m30s; the one at 2m has a whole window).
	if !st[0].Pending || !st[2].Pending || st[3].Pending {
		t.Errorf("pending: %v %v %v, want the first window (2m) of the step only", st[0].Pending, st[2].Pending, st[3].Pending)
	}
	if j := firstFired(got["error_rate"]); j >= 0 {
		t.Errorf("the canary's baseline test fired (%+v): the canary is the better release here", got["error_rate"][j])
	}
	for _, r := range got["error_rate"] {
		if r.Stable {
			t.Errorf("a canary result marked stable: %+v", r)
		}
	}
}

// A steady stable release at 2 % errors, with a binomial window's noise,
// never fires its watch, and is judged (passes) once its window is full:
// at 2160 stable requests a window not one analysis breaches; at 504 (a
// level the lowest-window form breached within every hour) none fires.
func TestStableSteadyNeverFires(t *testing.T) {
	a, err := NewAnalyzer(stablePlan(t, baselineTrigger), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct {
		rps      float64
		noBreach bool
	}{{18, true}, {4.2, false}} {
		for seed := uint64(1); seed <= 6; seed++ {
			q := traffic(t, seed, start, time.Hour, []regime{{-40 * time.Minute, tt.rps, 0.02}}, []regime{{0, 2, 0.02}})
			st := observeUntil(a, q, start, time.Hour)["stable_error_rate"]
			pass := 0
			for _, r := range st {
				if r.Fired || tt.noBreach && r.Breach {
					t.Fatalf("%.1f/s, seed %d: a steady stable release breached its watch: %+v", tt.rps, seed, r)
				}
				if r.Verdict == metricquery.Pass {
					pass++
				}
			}
			if min := len(st) - 3 - 2; pass < min {
				t.Errorf("%.1f/s, seed %d: %d of %d analyses passed; want at least %d (all after the first window)", tt.rps, seed, pass, len(st), min)
			}
		}
	}
}

// Without stable traffic (or with fewer requests than the floor) the
// watch is inconclusive, never a pass; it neither reaches no_data nor
// holds the promotion, which the canary's own checks decide.
func TestStableWithoutTrafficInconclusive(t *testing.T) {
	p := stablePlan(t, "  - {metric: error_rate, max: 5%, window: 1m, min_requests: 50}\n")
	start := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct {
		name   string
		stable []regime
	}{
		{"no stable series", nil},
		{"under the floor", []regime{{-40 * time.Minute, 0.5, 0}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAnalyzer(p, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			q := traffic(t, 3, start, 10*time.Minute, tt.stable, []regime{{-40 * time.Minute, 20, 0.01}})
			got := observeUntil(a, q, start, 10*time.Minute)
			st := got["stable_error_rate"]
			if len(st) != 20 {
				t.Fatalf("%d stable results", len(st))
			}
			for _, r := range st[2:] {
				if r.Verdict != metricquery.Inconclusive || !r.Insufficient || r.Pending || r.NoData || r.Fired || !r.Stable {
					t.Fatalf("result %+v; want inconclusive, without no_data", r)
				}
				if !strings.Contains(r.Reason, "50 stable requests") {
					t.Errorf("reason %q", r.Reason)
				}
			}
			for _, r := range got["error_rate"][2:] {
				if r.Verdict != metricquery.Pass {
					t.Errorf("canary check %+v", r)
				}
			}
			if missing := a.Inconclusive(); len(missing) != 0 {
				t.Errorf("Inconclusive() = %v: the stable watch held the promotion", missing)
			}
		})
	}
}

// The drill fills the baseline range as it fills the window: divided by
// the time scale.
func TestStableArgsScaled(t *testing.T) {
	a, err := NewAnalyzer(stablePlan(t, baselineTrigger), nil, 60)
	if err != nil {
		t.Fatal(err)
	}
	c := a.Checks[len(a.Checks)-1]
	if !c.Stable {
		t.Fatalf("last check %s is not the stable watch", c.Trigger)
	}
	args := a.Args(c)
	if args[metricquery.ArgWindow] != "2s" || args[metricquery.ArgBaseline] != "32s" || a.Baseline(c) != 32*time.Second {
		t.Errorf("args %v", args)
	}
	if q := c.Resolve(args); !strings.Contains(q, "[32s] offset 2s") || strings.Contains(q, "{{") {
		t.Errorf("query %s", q)
	}
	if _, ok := a.Args(a.Checks[0])[metricquery.ArgBaseline]; ok {
		t.Error("a canary check got a baseline argument")
	}
}
