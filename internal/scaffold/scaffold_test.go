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
