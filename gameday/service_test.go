package gameday

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/drillenv"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/plan"
)

var (
	exampleOnce sync.Once
	exampleErr  error
)

// exampleImages builds the example service's images once per test binary.
func exampleImages(t *testing.T, ctx context.Context) {
	t.Helper()
	exampleOnce.Do(func() { exampleErr = drillenv.ExampleImages(ctx, moduleRoot()) })
	if exampleErr != nil {
		t.Fatal(exampleErr)
	}
}

func planPolicy(t *testing.T, rel string) Policy {
	t.Helper()
	pol := examplePlanPolicy(t, rel)
	if pol.OwnService == nil {
		t.Fatalf("%s names no gameday.service", rel)
	}
	return pol
}

// scenarios are the plan's gameday.scenarios.
func planScenarios(t *testing.T, rel string) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(moduleRoot(), "content", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := plan.Parse(rel, rel, src)
	return p.Gameday.Scenarios
}

type drillImages struct{ agent, db, prom string }

func dockerImages(t *testing.T, ctx context.Context) drillImages {
	t.Helper()
	if err := drillenv.CheckDocker(ctx); err != nil {
		if os.Getenv("ROLLBOOK_REQUIRE_DOCKER") == "1" {
			t.Fatalf("ROLLBOOK_REQUIRE_DOCKER=1 but: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "rollbook-agent")
	if err := drillenv.BuildAgentBinary(ctx, moduleRoot(), bin); err != nil {
		t.Fatal(err)
	}
	agent, db, err := Images(ctx, bin, "")
	if err != nil {
		t.Fatal(err)
	}
	prom, err := PrometheusImage(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	exampleImages(t, ctx)
	return drillImages{agent, db, prom}
}

// The example plans drilled on their own service, one plan of each
// shape (scenario.Shape): payments' expand migration 0042 leaves the
// stable release's smoke checks passing, so its rollback is proven safe;
// checkout's contract migration 0107 runs after promotion, and the guard
// blocks the rollback once the promoted release regresses; the same plan
// with 0107 before step 1 is an outage the drill names; and a canary
// (6.1.0) that needs its own later rename cannot be canaried at all.
func TestDrillsOwnService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	img := dockerImages(t, ctx)
	t.Logf("images ready in %s", time.Since(start).Round(time.Millisecond))
	const payments, checkout = "payments/api-2-4-canary.md", "checkout/drop-legacy-status-rollback.md"
	type drill struct {
		plan, scenario string
		// variant rewrites the plan's text (another shape of it).
		variant func(string) string
		state   State
		guard   string
		// passes is false for the drills that must fail; headline and
		// failing are what the failed report must say.
		failing  []string
		headline string
	}
	var drills []drill
	for _, sc := range planScenarios(t, payments) {
		d := drill{plan: payments, scenario: sc, state: map[string]State{"bad-canary-errors": RolledBack, "bad-canary-latency": RolledBack, "healthy-canary": Promoted, "incompatible-migration": RolledBack, "stuck-rollback": Halted, "freeze": Halted}[sc]}
		if sc == "incompatible-migration" {
			d.guard = "expand-only migrations (0042_add_ledger_ref): the stable release's smoke checks still pass"
		}
		drills = append(drills, d)
	}
	for _, sc := range planScenarios(t, checkout) {
		d := drill{plan: checkout, scenario: sc, state: map[string]State{"healthy-canary": Promoted, "incompatible-migration": Halted, "freeze": Halted}[sc]}
		if sc == "incompatible-migration" {
			d.guard = "contract migration (0107_drop_orders_legacy_status) after promotion"
		}
		drills = append(drills, d)
	}
	if len(drills) != 9 {
		t.Fatalf("%d drills; the example plans list 6 and 3 scenarios", len(drills))
	}
	drills = append(drills,
		drill{plan: checkout, scenario: "incompatible-migration", state: Halted,
			variant:  func(s string) string { return strings.Replace(s, "runs: post-deploy", "runs: pre-deploy", 1) },
			guard:    "contract migration (0107_drop_orders_legacy_status) before promotion",
			failing:  []string{"no migration breaks a release while it serves traffic"},
			headline: "migration 0107_drop_orders_legacy_status broke the stable release (example-orders:5.9.2) while it served 100% of traffic: GET /orders?limit=1 answered 500"},
		drill{plan: checkout, scenario: "healthy-canary", state: RolledBack,
			variant: needsRename,
			// It rolls back (the variant rolls back automatically), so
			// neither of healthy-canary's own assertions holds either.
			failing:  []string{"the canary serves before its later migrations run", "no trigger fires", "canary promoted to 100%"},
			headline: "fails without migration 0108_rename_orders_status: it cannot be canaried before 0108_rename_orders_status runs; split the change (expand, write both, contract later)"},
	)
	var table []string
	for _, tc := range drills {
		name := strings.TrimSuffix(filepath.Base(tc.plan), ".md") + "/" + tc.scenario
		if tc.variant != nil {
			name += "/" + strings.ReplaceAll(tc.headline[:20], " ", "_")
		}
		t.Run(name, func(t *testing.T) {
			s := time.Now()
			pol := planPolicy(t, tc.plan)
			if tc.variant != nil {
				pol = variantPolicy(t, tc.plan, tc.variant)
			}
			rep, err := Run(ctx, RunOptions{Policy: pol, Scenario: tc.scenario, AgentImage: img.agent, DBImage: img.db, PrometheusImage: img.prom})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range rep.Assertions {
				if !a.Passed && !slices.Contains(tc.failing, a.Name) {
					t.Errorf("%s: %s", a.Name, a.Message)
				}
			}
			if len(tc.failing) > 0 {
				if rep.Passed || !slices.ContainsFunc(rep.Failed(), func(a Assertion) bool { return a.Name == tc.failing[0] && len(a.Failures)+len(rep.Failures) > 0 }) {
					t.Errorf("the drill must fail %q with the failing responses as evidence; failed: %+v", tc.failing, rep.Failed())
				}
				if !strings.Contains(rep.Headline, tc.headline) {
					t.Errorf("headline %q\nwant it to hold %q", rep.Headline, tc.headline)
				}
			}
			if rep.FinalState != tc.state || !strings.Contains(rep.Guard, tc.guard) || tc.guard == "" && rep.Guard != "" {
				t.Errorf("final state %s, guard %q; want %s, %q", rep.FinalState, rep.Guard, tc.state, tc.guard)
			}
			if len(rep.Images) != 2 || rep.Images[0].Ref == "" || !strings.HasPrefix(rep.Images[1].ID, "sha256:") {
				t.Errorf("images drilled: %+v", rep.Images)
			}
			if len(rep.Logs) == 0 {
				t.Error("the report holds no release log lines")
			}
			checkImpact(t, rep)
			checkWarmUp(t, rep)
			if left, err := drillenv.Leftovers(ctx, rep.RunID); err != nil || len(left) > 0 {
				t.Errorf("leftovers: %v %v", left, err)
			}
			if t.Failed() {
				for _, e := range rep.Timeline {
					t.Logf("%s %s %s", e.AtText, e.Type, e.Message)
				}
			}
			table = append(table, impactRow(name, rep))
			t.Logf("%s %s: %s in %s", tc.plan, tc.scenario, rep.FinalState, time.Since(s).Round(time.Millisecond))
		})
	}
	t.Logf("what users saw:\n%s", strings.Join(table, "\n"))
}

// checkImpact holds the report's user-impact figures to the load
// generator's own counts: equal within the requests in flight when each
// was read.
func checkImpact(t *testing.T, rep *Report) {
	t.Helper()
	if rep.Load == nil || len(rep.Impact) == 0 || rep.BlastRadius == nil {
		t.Fatalf("no user impact in the report: load %+v, impact %+v", rep.Load, rep.Impact)
	}
	whole := rep.Impact[len(rep.Impact)-1]
	if whole.Phase != drillreport.PhaseWhole {
		t.Fatalf("the last phase is %s, not the whole drill", whole.Phase)
	}
	var sum, failed float64
	for _, p := range rep.Impact[:len(rep.Impact)-1] {
		sum += p.Requests
		failed += p.Failed
	}
	if sum != whole.Requests || failed != whole.Failed {
		t.Errorf("the phases add to %v requests (%v failed), the whole drill %v (%v)", sum, failed, whole.Requests, whole.Failed)
	}
	// In flight when each end was read (Little's law): the rate times a
	// round trip, at each end. The round trip is the drill's own p99, at
	// least 50 ms: on a busy machine, a migration or a cold release can
	// hold requests for seconds, and those are in flight, not lost.
	inFlight := 2*rep.LoadRate*max(0.05, whole.P99) + 10
	if d := whole.Requests - rep.Load.Requests; d > inFlight || d < -inFlight {
		t.Errorf("the router counted %v requests, the load generator %v (in flight: %v)", whole.Requests, rep.Load.Requests, inFlight)
	}
	if d := whole.Failed - rep.Load.Failed; d > inFlight || d < -inFlight {
		t.Errorf("the router counted %v failed requests, the load generator %v (in flight: %v)", whole.Failed, rep.Load.Failed, inFlight)
	}
	if *rep.BlastRadius > whole.Failed {
		t.Errorf("blast radius %v is more than every failure %v", *rep.BlastRadius, whole.Failed)
	}
}

// checkWarmUp holds a drill that reached step 1 to having warmed its
// canary up first, past the router (how far it got on a slow machine is
// the timeline's to say, not a bound here).
func checkWarmUp(t *testing.T, rep *Report) {
	t.Helper()
	var warm *drillreport.Event
	for i, e := range rep.Timeline {
		switch {
		case e.Type == drillreport.EventAction && e.Action == drillreport.ActionWarmedUp:
			warm = &rep.Timeline[i]
		case e.Type == drillreport.EventTraffic:
			if warm == nil || warm.Warmup == nil || warm.Error != "" || warm.Warmup.Requests == 0 {
				t.Errorf("the canary took traffic at %s without a warm-up first: %+v", e.AtText, warm)
			}
			return
		}
	}
}

// impactRow is one line of the closing note's user-impact table.
func impactRow(name string, rep *Report) string {
	var parts []string
	for _, p := range rep.Impact {
		parts = append(parts, fmt.Sprintf("%s %.0f req %.0f failed (%.1f%%) p99 %.0fms", p.Phase, p.Requests, p.Failed, 100*p.ErrorRate, 1000*p.P99))
	}
	return fmt.Sprintf("| %s | %s | blast radius %.0f | %s |", name, rep.FinalState, deref0(rep.BlastRadius), strings.Join(parts, " · "))
}

func deref0(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// needsRename makes the checkout plan ship 6.1.0, which reads the column
// only its own post-deploy contract migration 0108 creates.
func needsRename(s string) string {
	s = strings.Replace(s, `args: {VERSION: "6.0.0"}`, `args: {VERSION: "6.1.0"}`, 1)
	s = strings.Replace(s, "runs: post-deploy, reversible: false}", "runs: post-deploy, reversible: false}\n  - {id: \"0108_rename_orders_status\", file: migrations/0108_rename_orders_status.sql, phase: contract, runs: post-deploy, reversible: false}", 1)
	s = strings.Replace(s, "automatic: false", "automatic: true", 1)
	return s
}

// variantPolicy is the policy of rel rewritten by edit, in a copy of its
// folder (its schema and migrations beside it, plus 0108 for 6.1.0).
func variantPolicy(t *testing.T, rel string, edit func(string) string) Policy {
	return variantPolicyWith(t, rel, edit, nil)
}

// variantPolicyWith is variantPolicy with files (relative to the plan's
// folder) written into the copy.
func variantPolicyWith(t *testing.T, rel string, edit func(string) string, files map[string]string) Policy {
	t.Helper()
	src := filepath.Join(moduleRoot(), "content", filepath.FromSlash(rel))
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Dir(src))); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "migrations", "0108_rename_orders_status.sql"), []byte("-- 6.1.0 calls the status column state.\nALTER TABLE orders RENAME COLUMN status TO state;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// The canary's build context, relative to the plan, is the example
	// service's folder: absolute here.
	out := strings.ReplaceAll(edit(string(text)), "context: ../../cmd/example-orders", "context: "+filepath.Join(moduleRoot(), "cmd", "example-orders"))
	file := filepath.Join(dir, filepath.Base(src))
	p, ds := plan.Parse(file, rel, []byte(out))
	if len(ds.Errors()) > 0 {
		t.Fatal(ds)
	}
	pol, err := PolicyFromPlan(p, dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// seedFile writes a seed SQL file and returns its absolute path.
func seedFile(t *testing.T, sql string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "seed.sql")
	if err := os.WriteFile(f, []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// Each bad input stops the drill with an error that names what is wrong
// and what to do, and leaves nothing behind (checked by label).
func TestOwnServiceBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img := dockerImages(t, ctx)
	badContext := t.TempDir()
	if err := os.WriteFile(filepath.Join(badContext, "Dockerfile"), []byte("FROM scratch\nCOPY no-such-binary /app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := drillenv.ReadyTimeout
	drillenv.ReadyTimeout = 8 * time.Second
	defer func() { drillenv.ReadyTimeout = old }()
	tests := []struct {
		name string
		edit func(*ServicePlan)
		want []string
	}{
		{"image not present", func(s *ServicePlan) { s.Stable.Image = "example-orders:0.0.0-missing" },
			[]string{"example-orders:0.0.0-missing is not on the Docker engine", "docker build -t example-orders:0.0.0-missing", "docker load"}},
		{"Dockerfile missing", func(s *ServicePlan) { s.Canary.Build.Dockerfile = "Missing.dockerfile" },
			[]string{"Missing.dockerfile does not exist", "build.dockerfile"}},
		{"Dockerfile failing", func(s *ServicePlan) { s.Canary.Build.Context = badContext; s.Canary.Build.Dockerfile = "" },
			[]string{"building the canary release", "last lines of the build log", "no-such-binary"}},
		{"release never ready", func(s *ServicePlan) {
			s.Env = map[string]string{"DATABASE_URL": "postgres://postgres@nowhere:5432/x?connect_timeout=1", "MIGRATE": "startup"}
		}, []string{"the stable release (example-orders:2.3.1) did not become ready", "answered 503", "GET http://", "/health/ready", "log lines:", "database not ready"}},
		{"ready path 404", func(s *ServicePlan) { s.Ready = "/healthz" },
			[]string{"answers 404 Not Found", "/healthz", "set gameday.service.ready"}},
		{"smoke fails before any migration", func(s *ServicePlan) { s.Smoke = []plan.Request{{Method: "GET", Path: "/orders/export", Expect: 200}} },
			[]string{"fails its own smoke checks before any migration", "the smoke list is wrong, not the migration", "GET /orders/export answered 404, want 200"}},
		{"port not exposed", func(s *ServicePlan) { s.Port = 9090 },
			[]string{"nothing answered GET http://", "the image exposes 8080/tcp", "set gameday.service.port"}},
		{"dependency exits", func(s *ServicePlan) {
			s.DependsOn = []plan.Dependency{{Name: "cache", Image: img.agent, Port: 6379}}
		}, []string{"dependency cache", "exited with code 2", "usage: rollbook-agent"}},
		{"volume table not in the schema", func(s *ServicePlan) { s.Database.Volume = map[string]int64{"ordrs": 1000} },
			[]string{"payments/api-2-4-canary.md:", "gameday.database.volume.ordrs", `table "ordrs" is not in the schema`, "did you mean orders?"}},
		{"volume type the generator does not know", func(s *ServicePlan) {
			s.Database.Seed = seedFile(t, "CREATE TABLE places (id serial PRIMARY KEY, at point NOT NULL);\n")
			s.Database.Volume = map[string]int64{"places": 1000}
		}, []string{"gameday.database.volume.places", "column places.at has type point", "gameday.database.seed"}},
		{"seed that fails", func(s *ServicePlan) {
			s.Database.Seed = seedFile(t, "-- the seed\nINSERT INTO orders (sku, qty) VALUES ('a', 1);\nINSERT INTO orders (sku, qty)\n  VALUES ('b', 0);\n")
		}, []string{"seed.sql:3:1: the seed file fails", "orders_qty_check"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := planPolicy(t, "payments/api-2-4-canary.md")
			sp := *pol.OwnService
			sp.Env = map[string]string{}
			for k, v := range pol.OwnService.Env {
				sp.Env[k] = v
			}
			tt.edit(&sp)
			pol.OwnService = &sp
			runID := fmt.Sprintf("test-bad-%d-%d", i, time.Now().UnixNano())
			_, err := Run(ctx, RunOptions{Policy: pol, Scenario: "healthy-canary", AgentImage: img.agent, DBImage: img.db, PrometheusImage: img.prom, RunID: runID, Timeout: 2 * time.Minute})
			if err == nil {
				t.Fatal("the drill started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if left, lerr := drillenv.Leftovers(ctx, runID); lerr != nil || len(left) > 0 {
				t.Errorf("leftovers after the failure: %v %v", left, lerr)
			}
		})
	}
}
