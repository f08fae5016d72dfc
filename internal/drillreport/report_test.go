package drillreport

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	w := 30
	r := Report{Plan: "content/a.md", Scenario: "healthy-canary", Started: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
		Timeline: []Event{{Type: EventTraffic, Weight: &w, Message: "traffic: canary 30%"}}}
	data, _ := json.Marshal(r)
	older := r
	older.Started = r.Started.Add(-time.Hour)
	data2, _ := json.Marshal(older)
	for name, b := range map[string][]byte{
		"a/new.json":     data,
		"a/old.json":     data2,
		"a/half.json":    []byte(`{"plan": "content/a.md", "sta`),
		"a/other.json":   []byte(`{"name": "not a report"}`),
		"a/.tmp.json":    data,
		".claims/x.json": data,
		"a/notes.txt":    []byte("x"),
	} {
		f := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reports, bad := ReadDir(dir)
	if len(reports) != 2 || reports[0].File != "a/old.json" || reports[1].File != "a/new.json" {
		t.Fatalf("reports %+v", reports)
	}
	if e := reports[1].Timeline[0]; e.Weight == nil || *e.Weight != 30 || e.Type != EventTraffic {
		t.Errorf("typed event lost: %+v", e)
	}
	if len(bad) != 2 {
		t.Errorf("bad files %v, want half.json and other.json", bad)
	}
	if r, bad := ReadDir(filepath.Join(dir, "missing")); len(r) != 0 || len(bad) != 0 {
		t.Errorf("a missing folder: %v %v", r, bad)
	}
}
