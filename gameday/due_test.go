package gameday

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/plan"
)

func scheduledPlan(t *testing.T, spec string) *plan.Plan {
	t.Helper()
	p, ds := plan.Parse("x.md", "x.md", []byte("---\nkind: rollout\ngameday: {schedule: \""+spec+"\", scenarios: [healthy-canary]}\n---\n"))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	return p
}

func writeReport(t *testing.T, dir, planFile string, started time.Time) {
	t.Helper()
	r := &Report{Plan: planFile, Scenario: "healthy-canary", Started: started, Finished: started.Add(time.Minute), Passed: true}
	if _, _, err := WriteReport(r, dir); err != nil {
		t.Fatal(err)
	}
}

func TestDueDrills(t *testing.T) {
	dir := t.TempDir()
	// Tuesdays 10:00 UTC. Now is Wednesday 2026-11-25 12:00.
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	plans := map[string]*plan.Plan{
		"content/due.md":     scheduledPlan(t, "0 10 * * TUE"),
		"content/notdue.md":  scheduledPlan(t, "0 10 * * TUE"),
		"content/overdue.md": scheduledPlan(t, "0 10 * * TUE"),
		"content/never.md":   scheduledPlan(t, "0 10 * * TUE"),
	}
	writeReport(t, dir, "content/due.md", time.Date(2026, 11, 17, 10, 5, 0, 0, time.UTC))    // last Tuesday: due again (24 Nov)
	writeReport(t, dir, "content/notdue.md", time.Date(2026, 11, 24, 10, 5, 0, 0, time.UTC)) // drilled after this week's activation
	writeReport(t, dir, "content/overdue.md", time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)) // three weeks ago
	if err := os.WriteFile(filepath.Join(dir, "half.json"), []byte(`{"plan": "content/due.md", "sta`), 0o644); err != nil {
		t.Fatal(err)
	}
	got := map[string]Scheduled{}
	for _, s := range DueDrills(plans, dir, now, time.Time{}) {
		got[s.File] = s
	}
	for file, want := range map[string][2]bool{"content/due.md": {true, false}, "content/notdue.md": {false, false}, "content/overdue.md": {true, true}, "content/never.md": {true, true}} {
		if s := got[file]; s.Due != want[0] || s.Overdue != want[1] {
			t.Errorf("%s: due %v overdue %v (%s); want %v %v", file, s.Due, s.Overdue, s.Reason, want[0], want[1])
		}
	}
	// --since later than this week's activation: nothing of the weekly ones is due.
	for _, s := range DueDrills(plans, dir, now, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)) {
		if s.Due {
			t.Errorf("%s due despite --since after its activation", s.File)
		}
	}
}

// Two runners started together claim each due drill once.
func TestClaimOnce(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	s := Scheduled{File: "content/due.md", Next: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok, err := Claim(dir, s, now); err != nil {
				t.Error(err)
			} else if ok {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d runners claimed the drill", won.Load())
	}
	// A crashed runner's claim goes stale and the drill runs again.
	if _, ok, _ := Claim(dir, s, now.Add(ClaimStale+time.Minute)); !ok {
		t.Error("a stale claim was not taken over")
	}
	// A runner whose drill could not start frees the activation.
	s2 := Scheduled{File: "content/other.md", Next: s.Next}
	release, ok, _ := Claim(dir, s2, now)
	if !ok {
		t.Fatal("claim")
	}
	release(false)
	if _, ok, _ := Claim(dir, s2, now); !ok {
		t.Error("a released claim could not be taken again")
	}
}
