package scaffold

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/plan"
)

// The commented gameday.service skeleton becomes a valid service once
// uncommented: every key is one the plan format knows.
func TestGamedayServiceSkeleton(t *testing.T) {
	src, err := Skeleton(plan.KindRollout, "New plan", "orders", time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "# gameday:") {
		t.Fatalf("no gameday skeleton:\n%s", src)
	}
	uncommented := regexp.MustCompile(`(?m)^# (gameday:|  )`).ReplaceAllString(string(src), "$1")
	p, ds := plan.Parse("x.md", "x.md", []byte(uncommented))
	if len(ds) > 0 {
		t.Fatalf("uncommented skeleton: %v\n%s", ds, uncommented)
	}
	s := p.Gameday.Service
	if s.Stable.Image != "orders:TODO-current" || s.Canary.Build.Args["VERSION"] != "TODO-new" || s.Port != 8080 || s.Env["DATABASE_URL"] != "{{ .DatabaseURL }}" || len(s.Smoke) != 1 || s.Smoke[0].Expect != 200 || len(s.Traffic) != 2 || p.Gameday.Database.Name != "orders" {
		t.Errorf("service = %+v, database %+v", s, p.Gameday.Database)
	}
}

// The commented migrations line becomes a migration that says when it
// runs once uncommented.
func TestMigrationsSkeleton(t *testing.T) {
	src, err := Skeleton(plan.KindRollout, "New plan", "orders", time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	uncommented := regexp.MustCompile(`(?m)^# (migrations:)`).ReplaceAllString(string(src), "$1")
	if uncommented == string(src) {
		t.Fatalf("no migrations skeleton:\n%s", src)
	}
	p, ds := plan.Parse("x.md", "x.md", []byte(uncommented))
	if len(ds) > 0 {
		t.Fatalf("uncommented skeleton: %v\n%s", ds, uncommented)
	}
	if len(p.Migrations) != 1 || !p.Has("migrations[0].runs") {
		t.Fatalf("migrations = %+v", p.Migrations)
	}
	if got := p.Migrations[0].Timing(false); got != (plan.Timing{Runs: plan.RunsPreDeploy}) || got.Describe(p.Strategy.Steps) != "before step 1" {
		t.Errorf("timing = %+v", got)
	}
}
