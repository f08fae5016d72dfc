package gameday

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/drillenv"
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

// The example plans drilled on their own service: checkout's real
// contract migration 0107 breaks the real stable release's smoke checks
// and the guard halts and pages; payments' expand migration 0042 leaves
// them passing, so its rollback is proven safe.
func TestDrillsOwnService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	img := dockerImages(t, ctx)
	t.Logf("images ready in %s", time.Since(start).Round(time.Millisecond))
	type drill struct {
		plan, scenario string
		state          State
		guard          string
	}
	var drills []drill
	for _, sc := range planScenarios(t, "payments/api-2-4-canary.md") {
		d := drill{plan: "payments/api-2-4-canary.md", scenario: sc, state: map[string]State{"bad-canary-errors": RolledBack, "bad-canary-latency": RolledBack, "healthy-canary": Promoted, "incompatible-migration": RolledBack, "stuck-rollback": Halted, "freeze": Halted}[sc]}
		if sc == "incompatible-migration" {
			d.guard = "expand-only migrations (0042_add_ledger_ref.sql): the stable release's smoke checks still pass"
		}
		drills = append(drills, d)
	}
	for _, sc := range planScenarios(t, "checkout/drop-legacy-status-rollback.md") {
		d := drill{plan: "checkout/drop-legacy-status-rollback.md", scenario: sc, state: map[string]State{"healthy-canary": Promoted, "incompatible-migration": Halted, "freeze": Halted}[sc]}
		if sc == "incompatible-migration" {
			d.guard = "contract migration (0107_drop_orders_legacy_status.sql): the stable release's smoke checks fail"
		}
		drills = append(drills, d)
	}
	if len(drills) != 9 {
		t.Fatalf("%d drills; the example plans list 6 and 3 scenarios", len(drills))
	}
	for _, tc := range drills {
		t.Run(strings.TrimSuffix(filepath.Base(tc.plan), ".md")+"/"+tc.scenario, func(t *testing.T) {
			s := time.Now()
			pol := planPolicy(t, tc.plan)
			rep, err := Run(ctx, RunOptions{Policy: pol, Scenario: tc.scenario, AgentImage: img.agent, DBImage: img.db, PrometheusImage: img.prom})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range rep.Assertions {
				if !a.Passed {
					t.Errorf("%s: %s", a.Name, a.Message)
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
			if left, err := drillenv.Leftovers(ctx, rep.RunID); err != nil || len(left) > 0 {
				t.Errorf("leftovers: %v %v", left, err)
			}
			if t.Failed() {
				for _, e := range rep.Timeline {
					t.Logf("%s %s %s", e.AtText, e.Type, e.Message)
				}
			}
			t.Logf("%s %s: %s in %s", tc.plan, tc.scenario, rep.FinalState, time.Since(s).Round(time.Millisecond))
		})
	}
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
