package gameday

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/analysis"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/metricquery"
	"github.com/rollbook/rollbook/internal/migrate"
	"github.com/rollbook/rollbook/internal/plan"
	"github.com/rollbook/rollbook/internal/promsim"
	"github.com/rollbook/rollbook/internal/scenario"
)

// fakeClock advances only when the controller sleeps.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now = c.now.Add(d)
	return nil
}

// fakeWorld simulates traffic: each snapshot adds a second of requests at
// the current weight with the configured error rates.
type fakeWorld struct {
	clock         *fakeClock
	r             *rand.Rand
	rate          float64
	weight        int
	canaryErr     float64
	stableErr     float64
	canaryDown    bool
	stableUnready bool
	smokeFails    bool
	stopped       int
	weightCalls   int
	weightsSet    []int
	pages         []Page
	cum           analysis.Snapshot
	last          time.Time
	failTraffic   bool
	// prom holds the router's counters as Prometheus scrapes them, every
	// scrapeEvery; metricsGone stops the scrapes (metrics-missing).
	prom        *promsim.Store
	metricsGone bool
	// Migrations: migrated lists the files applied with the weight at the
	// time; breaks makes a file break the stable release's smoke checks;
	// canarySmokeFails fails the canary's; onWeight sees each shift.
	migrated         []string
	breaks           map[string]bool
	migrateFails     map[string]bool
	loads            map[string]drillreport.MigrationLoad
	canarySmokeFails bool
	onWeight         func(int)
}

func (w *fakeWorld) Migrate(_ context.Context, file string) (drillreport.MigrationLoad, error) {
	if w.migrateFails[file] {
		return drillreport.MigrationLoad{}, errors.New(`ERROR: relation "orders" does not exist (SQLSTATE 42P01)`)
	}
	w.migrated = append(w.migrated, fmt.Sprintf("%s@%d", file, w.weight))
	if w.breaks[file] {
		w.smokeFails = true
	}
	return w.loads[file], nil
}

func (w *fakeWorld) CanarySmoke(context.Context) error {
	if w.canarySmokeFails {
		return errors.New(`GET /orders answered 500, want 200: column "state" does not exist`)
	}
	return nil
}

// scrapeEvery is the fake Prometheus's scrape interval in drill time.
const scrapeEvery = 100 * time.Millisecond

func newFakeWorld(seed uint64) *fakeWorld {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	w := &fakeWorld{clock: clock, r: rand.New(rand.NewPCG(seed, 1)), rate: 800, last: clock.now, prom: promsim.New(metricquery.ReleaseLabel, 5*time.Minute)}
	w.scrape(clock.now)
	return w
}

func (w *fakeWorld) SetCanaryWeight(_ context.Context, p int) error {
	w.weightCalls++
	if w.failTraffic {
		return errors.New("router unreachable")
	}
	w.advance()
	w.weight = p
	w.weightsSet = append(w.weightsSet, p)
	if w.onWeight != nil {
		w.onWeight(p)
	}
	return nil
}

// advance simulates the traffic since the last call, a scrape at a time.
func (w *fakeWorld) advance() {
	for w.last.Before(w.clock.now) {
		step := min(scrapeEvery, w.clock.now.Sub(w.last))
		w.last = w.last.Add(step)
		n := w.rate * step.Seconds()
		nc := int(n * float64(w.weight) / 100)
		if w.stopped > 0 {
			nc = 0
		}
		ns := int(n) - nc
		add := func(rel *analysis.Release, n int, p float64) {
			if rel.Buckets == nil {
				rel.Buckets = []analysis.Bucket{{Le: 0.1}, {Le: 1}, {Le: 1e9}}
			}
			for i := 0; i < n; i++ {
				rel.Requests++
				if w.r.Float64() < p {
					rel.Errors++
				}
				for j := range rel.Buckets {
					rel.Buckets[j].Count++
				}
			}
		}
		add(&w.cum.Canary, nc, w.canaryErr)
		add(&w.cum.Stable, ns, w.stableErr)
		if !w.metricsGone {
			w.scrape(w.last)
		}
	}
}

// scrape writes the router's counters as the drill's Prometheus stores
// them: renamed to the exported queries' series.
func (w *fakeWorld) scrape(at time.Time) {
	for _, r := range []struct {
		name string
		rel  analysis.Release
	}{{"canary", w.cum.Canary}, {"stable", w.cum.Stable}} {
		for code, v := range map[string]float64{"200": r.rel.Requests - r.rel.Errors, "500": r.rel.Errors} {
			if err := w.prom.Add(at, v, "__name__", metricquery.RequestsTotal, "code", code, metricquery.ReleaseLabel, r.name); err != nil {
				panic(err)
			}
		}
	}
}

func (w *fakeWorld) Query(ctx context.Context, q string, at time.Time) ([]float64, error) {
	w.advance()
	return w.prom.Query(ctx, q, at)
}

func (w *fakeWorld) Snapshot(context.Context) (analysis.Snapshot, error) {
	w.advance()
	s := w.cum
	s.At = w.clock.now
	s.Canary.Buckets = append([]analysis.Bucket(nil), w.cum.Canary.Buckets...)
	s.Stable.Buckets = append([]analysis.Bucket(nil), w.cum.Stable.Buckets...)
	return s, nil
}

func (w *fakeWorld) CanaryReady(context.Context) bool { return !w.canaryDown }
func (w *fakeWorld) StableReady(context.Context) error {
	if w.stableUnready {
		return errors.New("503 unready")
	}
	return nil
}
func (w *fakeWorld) StableSmoke(context.Context) error {
	if w.smokeFails {
		return errors.New(`column "note" does not exist`)
	}
	return nil
}
func (w *fakeWorld) StopCanary(context.Context) error { w.stopped++; return nil }
func (w *fakeWorld) Page(_ context.Context, p Page) error {
	w.pages = append(w.pages, p)
	return nil
}

func testPolicy(automatic bool) Policy {
	src := "---\nkind: rollout\nanalysis: {interval: 30s}\nstrategy: {steps: [{weight: 10, bake: 5m}, {weight: 50, bake: 5m}, {weight: 100}]}\ntriggers:\n  - {metric: error_rate, compare: baseline, max_delta: 2%, window: 2m, min_requests: 200, consecutive: 2}\n  - {metric: health, failures: 3}\nrollback: {class: fast, target: 10m, automatic: " + fmt.Sprint(automatic) + ", max_automatic: {count: 1, per: 1h}}\n---\n"
	p, ds := plan.Parse("p.md", "p.md", []byte(src))
	if len(ds) > 0 {
		panic(ds.Error())
	}
	pol, err := PolicyFromPlan(p, ".", 60, 800)
	if err != nil {
		panic(err)
	}
	return pol
}

func controller(w *fakeWorld, pol Policy, l *Ledger) *Controller {
	return &Controller{Policy: pol, Traffic: w, Metrics: w, Prometheus: w, Health: w, Canary: w, Pager: w, Clock: w.clock, Ledger: l}
}

func TestControllerPaths(t *testing.T) {
	tests := []struct {
		name      string
		automatic bool
		setup     func(*fakeWorld, *Policy, *Controller)
		want      State
		pages     int
		stops     int
	}{
		{"healthy canary is promoted", true, func(*fakeWorld, *Policy, *Controller) {}, Promoted, 0, 0},
		{"bad canary rolls back", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.canaryErr = 0.3 }, RolledBack, 0, 1},
		{"crash-looping canary fails health and rolls back", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.canaryDown = true }, RolledBack, 0, 1},
		{"manual policy halts and pages", false, func(w *fakeWorld, _ *Policy, _ *Controller) { w.canaryErr = 0.3 }, Halted, 1, 0},
		{"static migration guard blocks", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			w.canaryErr = 0.3
			p.Contract = []migrate.Finding{{Kind: "drop-column", Object: "orders.note", Reason: "drops a column"}}
		}, Halted, 1, 0},
		{"dynamic migration guard blocks", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			w.canaryErr = 0.3
			w.smokeFails = true
			p.Migrations = []Migration{{ID: "0042", File: "0042.sql", Timing: plan.Timing{Runs: plan.RunsPreDeploy}}}
		}, Halted, 1, 0},
		{"unhealthy stable: stuck, halted once", true, func(w *fakeWorld, _ *Policy, _ *Controller) {
			w.canaryErr = 0.3
			w.stableUnready = true
		}, Halted, 1, 1},
		{"freeze: no automatic action", true, func(w *fakeWorld, _ *Policy, c *Controller) {
			w.canaryErr = 0.3
			c.SetFreeze(true)
		}, Halted, 1, 0},
		{"traffic shift fails: halted", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.failTraffic = true }, Halted, 1, 0},
		// No data is never a pass: held and paged by default...
		{"metrics missing: held, not promoted, paged", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.metricsGone = true }, Halted, 1, 0},
		// ...or rolled back where the plan says so.
		{"metrics missing with no_data: rollback", true, func(w *fakeWorld, p *Policy, _ *Controller) {
			w.metricsGone = true
			p.NoData = plan.NoData{After: 2, Then: "rollback"}
		}, RolledBack, 0, 1},
		// A canary without enough traffic for min_requests is inconclusive.
		{"too little traffic: held", true, func(w *fakeWorld, _ *Policy, _ *Controller) { w.rate = 5 }, Halted, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFakeWorld(1)
			pol := testPolicy(tt.automatic)
			c := controller(w, pol, nil)
			tt.setup(w, &c.Policy, c)
			got, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || len(w.pages) != tt.pages || w.stopped != tt.stops {
				t.Errorf("state %s pages %d stops %d; want %s %d %d", got, len(w.pages), w.stopped, tt.want, tt.pages, tt.stops)
				for _, e := range c.Events() {
					t.Log(e.AtText, e.Type, e.Message)
				}
			}
			if got == Halted && len(w.pages) > 0 && w.pages[0].Reason == "" {
				t.Error("a page without a reason")
			}
			if w.metricsGone || w.rate < 100 {
				inconclusive := 0
				for _, e := range c.Events() {
					for _, r := range e.Results {
						if r.Verdict == metricquery.Pass && r.Unit != "probes" {
							t.Errorf("a pass without data: %s", r.Reason)
						}
						if r.Verdict == metricquery.Inconclusive && !r.Pending {
							inconclusive++
						}
					}
				}
				if inconclusive == 0 || got == Halted && !strings.Contains(w.pages[0].Summary, "no data") {
					t.Errorf("%d inconclusive analyses; pages %v", inconclusive, w.pages)
				}
			}
		})
	}
}

// Property: over many random worlds every run ends in a final state, the
// cap holds across releases, and once a rollback starts the canary never
// gets traffic again.
func TestControllerProperties(t *testing.T) {
	ledger := &Ledger{}
	pol := testPolicy(true)
	for seed := uint64(0); seed < 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 2))
		w := newFakeWorld(seed)
		w.canaryErr = []float64{0, 0, 0.01, 0.05, 0.3}[r.IntN(5)]
		w.stableErr = 0.01 * r.Float64()
		w.stableUnready = r.IntN(6) == 0
		w.canaryDown = r.IntN(8) == 0
		c := controller(w, pol, ledger)
		c.SetFreeze(r.IntN(10) == 0)
		got, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !got.Final() {
			t.Fatalf("seed %d: ended in %s", seed, got)
		}
		rollingBack := false
		rollbacks := 0
		for _, e := range c.Events() {
			if e.Type == drillreport.EventState && e.State == RollingBack {
				rollingBack = true
				rollbacks++
			}
			if rollingBack && e.Type == drillreport.EventTraffic && *e.Weight != 0 {
				t.Fatalf("seed %d: traffic moved to the canary after the rollback began: %s", seed, e.Message)
			}
		}
		if rollbacks > 1 {
			t.Fatalf("seed %d: %d rollbacks in one release", seed, rollbacks)
		}
		// Time passes between releases, but less than the cap's hour.
		w.clock.now = w.clock.now.Add(time.Minute)
	}
	if n := ledger.Count(); n > 1 {
		t.Errorf("%d automatic rollbacks within an hour; the cap is 1", n)
	}
}

// Repeated actions change nothing: the same weight and the same page twice
// reach the world once.
func TestControllerIdempotent(t *testing.T) {
	w := newFakeWorld(1)
	c := controller(w, testPolicy(true), nil)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := c.setWeight(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if err := c.stopCanary(ctx); err != nil {
			t.Fatal(err)
		}
		c.page(ctx, "same", "reason")
	}
	if w.weightCalls != 1 || w.stopped != 1 || len(w.pages) != 1 {
		t.Errorf("weight calls %d, stops %d, pages %d; want 1 each", w.weightCalls, w.stopped, len(w.pages))
	}
}

func TestLedgerCap(t *testing.T) {
	l := &Ledger{}
	now := time.Unix(0, 0)
	if !l.Allow(now, 1, time.Hour) {
		t.Fatal("first rollback refused")
	}
	l.Record(now)
	if l.Allow(now.Add(30*time.Minute), 1, time.Hour) {
		t.Error("second rollback within the hour allowed")
	}
	if !l.Allow(now.Add(61*time.Minute), 1, time.Hour) {
		t.Error("rollback after the window refused")
	}
}

func TestDrillWeight(t *testing.T) {
	pol := testPolicy(true)
	// 200 requests in a 2s window (2m / 60) at 800/s need 12.5%, 18.75% with headroom.
	if got := pol.DrillWeight(plan.Step{Weight: 10}); got != 19 {
		t.Errorf("DrillWeight(10) = %d, want 19", got)
	}
	if got := pol.DrillWeight(plan.Step{Weight: 50}); got != 50 {
		t.Errorf("DrillWeight(50) = %d", got)
	}
}

// sleepLog is a fake clock that records every sleep.
type sleepLog struct {
	fakeClock
	sleeps []time.Duration
}

func (c *sleepLog) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	return c.fakeClock.Sleep(ctx, d)
}

// At a tiny time scale the plan's interval is microseconds in drill time;
// the bake loop and the rollback's verification both sleep the one
// interval rule's floor, never less.
func TestIntervalFloorAtTinyScale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*fakeWorld)
		want  State
	}{
		// A window of microseconds holds no scrape: the analysis is
		// inconclusive (never a pass) and the release is held, after the
		// bake loop has slept its floor.
		{"bake loop (no data at this scale: held)", func(*fakeWorld) {}, Halted},
		{"rollback verification (stuck)", func(w *fakeWorld) { w.canaryDown, w.stableUnready = true, true }, Halted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWorld(1)
			pol := testPolicy(true)
			pol.Scale = 1e6 // a 30s interval is 30µs
			if got := interval(pol); got != minInterval {
				t.Fatalf("interval = %s, want the %s floor", got, minInterval)
			}
			clock := &sleepLog{fakeClock: *w.clock}
			w.clock = &clock.fakeClock
			tc.setup(w)
			c := controller(w, pol, nil)
			c.Clock = clock
			got, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("state %s, want %s", got, tc.want)
			}
			if len(clock.sleeps) == 0 {
				t.Fatal("the controller never slept")
			}
			for i, d := range clock.sleeps {
				if d < minInterval {
					t.Fatalf("sleep %d was %s, below the %s floor", i, d, minInterval)
				}
			}
		})
	}
}

// Every assertion kind the table uses has its evaluation here.
func TestEveryAssertionKnown(t *testing.T) {
	pol := testPolicy(true)
	f := facts{injectedAt: 0, triggerAt: time.Second, rolledBackAt: 2 * time.Second}
	for _, s := range scenario.All {
		kinds := append(append([]scenario.Assertion(nil), s.Asserts...), scenario.MigrationAsserts...)
		for _, a := range s.Shapes {
			kinds = append(kinds, a...)
		}
		got := assertions(s, kinds, pol, f)
		if len(got) != len(kinds) {
			t.Errorf("%s: %d assertions for %d kinds", s.Name, len(got), len(kinds))
		}
		for _, a := range got {
			if strings.HasPrefix(a.Name, "assertion ") {
				t.Errorf("%s: %s", s.Name, a.Message)
			}
		}
	}
}

// A drill without a Prometheus image stops before any container starts
// (startEnv, which both engines call, checks it first) and says which
// option is missing.
func TestRunNeedsPrometheusImage(t *testing.T) {
	_, err := Run(context.Background(), RunOptions{Policy: testPolicy(true), Scenario: "healthy-canary", RunID: "no-such-drill"})
	if err == nil || !strings.Contains(err.Error(), "RunOptions.PrometheusImage is required") {
		t.Errorf("a drill without a Prometheus image: %v", err)
	}
}
