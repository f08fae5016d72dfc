package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/gameday"
	"github.com/rollbook/rollbook/internal/drillreport"
	"github.com/rollbook/rollbook/internal/golden"
	"github.com/rollbook/rollbook/internal/plan"
)

// TestDrillOutput: what a drill session prints, from the orphans it
// removed to the tally, for a failed drill with every part of a report
// and a passing one. The session decides; the command only prints.
func TestDrillOutput(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	failed := &gameday.Report{
		Plan: "content/checkout/drop.md", Scenario: "incompatible-migration", FinalState: drillreport.Halted,
		Headline: "migration 0107 broke the stable release while it served 100% of traffic",
		Assertions: []drillreport.Assertion{
			{Name: "trigger fires", Passed: true, Message: "error_rate fired at 2.10s"},
			{Name: "no outage", Passed: false, Message: "stable failed its smoke checks", Failures: []drillreport.Failure{{Release: "stable", Method: "GET", Path: "/orders", Status: 500, Body: `column "status" does not exist`}}},
		},
		Migrations: []drillreport.MigrationRun{
			{ID: "0107", Runs: "post-deploy", When: "after promotion to 100 %", Applied: true, Guard: []drillreport.SmokeVerdict{{Release: "stable", Passed: false, Share: 0}, {Release: "canary", Passed: true, Share: 100}}},
			{ID: "0108", Runs: "manual", When: "never applied automatically", Error: "not reached"},
		},
		Impact:      []drillreport.Impact{{Phase: drillreport.PhaseRollingBack, Requests: 812, Failed: 40, ErrorRate: 40.0 / 812, P99: 0.0421}},
		BlastRadius: f(40),
		Images:      []drillreport.Image{{Release: "stable", Ref: "example-orders:2.3.1", ID: "sha256:0123456789abcdef0123456789", Built: "built from Dockerfile"}},
		Guard:       "contract migration (0107) after promotion: the guard blocked the automatic rollback and paged",
		TTD:         f(2.1), TTDPlan: f(126),
		Engine:        drillreport.EngineArgo,
		Argo:          &drillreport.ArgoRun{Rollout: "checkout", Startup: 9400 * time.Millisecond, Changes: []string{"time scale 60x, as the built-in drill's"}},
		Disagreements: []drillreport.Disagreement{{What: drillreport.DisagreeVerdict, This: "failed (final state halted)", Other: "passed (final state rolled-back)", OtherEngine: drillreport.EngineBuiltin, OtherRunID: "r1"}},
	}
	passed := &gameday.Report{Plan: "content/checkout/drop.md", Scenario: "healthy-canary", Passed: true, FinalState: drillreport.Promoted,
		Assertions: []drillreport.Assertion{{Name: "promoted", Passed: true, Message: "canary promoted to 100%"}},
		TTD:        f(1), TTDPlan: f(60), TTR: f(0.5), TTRPlan: f(30)}
	p := &plan.Plan{Path: "content/checkout/drop.md"}
	for _, quiet := range []bool{false, true} {
		var b bytes.Buffer
		tr := trace(&b, quiet)
		tr.OrphansRemoved(3)
		tr.BuildingImages()
		tr.Drilling(p, gameday.Policy{Scale: 60, Rate: 800}, []string{"incompatible-migration", "healthy-canary"})
		tr.Scenario("incompatible-migration")
		if tr.Event != nil {
			tr.Event(gameday.Event{Type: drillreport.EventAnalysis, AtText: "1.50s", State: drillreport.Baking, Message: "error_rate 0.1% (canary) vs 0.1% (stable)"})
			tr.Event(gameday.Event{Type: drillreport.EventPage, AtText: "2.30s", Message: "paged: migration guard"})
		}
		tr.Report(failed, "drills/checkout-drop/x-incompatible-migration.json", "drills/checkout-drop/x-incompatible-migration.xml")
		tr.Scenario("healthy-canary")
		tr.Report(passed, "drills/checkout-drop/y-healthy-canary.json", "drills/checkout-drop/y-healthy-canary.xml")
		tr.Drilled(p, gameday.Tally{Scenarios: 2, Failed: 1})
		tr.Drilled(p, gameday.Tally{Scenarios: 2})
		tr.Due(gameday.Scheduled{File: "content/a.md", Due: true, Overdue: true, Reason: "never drilled"})
		tr.Due(gameday.Scheduled{File: "content/b.md", Reason: "next 2026-12-01T10:00:00Z"})
		tr.Busy(gameday.Scheduled{File: "content/a.md"})
		name := map[bool]string{false: "drill-output.txt", true: "drill-output-quiet.txt"}[quiet]
		golden.Check(t, filepath.Join("testdata", name), b.Bytes())
	}
}

// TestGamedayDueDryRun: `gameday due --dry-run` lists every scheduled
// plan of the project, due or not, and drills none.
func TestGamedayDueDryRun(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("content/weekly.md", "---\ntitle: Weekly\nkind: rollout\ngameday: {schedule: \"0 10 * * TUE\", scenarios: [healthy-canary]}\n---\n")
	write("content/unscheduled.md", "---\ntitle: Unscheduled\nkind: rollout\n---\n")
	code, out := runCLI(t, "gameday", "due", "-s", dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "DUE      content/weekly.md (overdue): never drilled\n") || strings.Contains(out, "unscheduled") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "drills", ".claims")); !os.IsNotExist(err) {
		t.Errorf("a dry run claimed a drill: %v", err)
	}
	// --since after now: nothing has fired since.
	since := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if code, out := runCLI(t, "gameday", "due", "-s", dir, "--dry-run", "--since", since); code != 0 || !strings.Contains(out, "not due  content/weekly.md") {
		t.Errorf("--since %s: exit %d:\n%s", since, code, out)
	}
	if code, out := runCLI(t, "gameday", "due", "-s", dir, "--since", "yesterday"); code == 0 || !strings.Contains(out, "write an RFC 3339 time") {
		t.Errorf("--since yesterday: exit %d:\n%s", code, out)
	}
}
