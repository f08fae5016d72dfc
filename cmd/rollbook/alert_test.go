package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAlertCommands: check --format json carries the alert findings of the
// fixture at their rule-file positions, and new alert NAME writes the
// runbook of a rule that lacked one, which check then no longer reports.
func TestAlertCommands(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "site", "testdata", "alerts")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	type finding struct {
		File      string
		Line, Col int
		Rule      string
		Severity  string
	}
	check := func() []finding {
		t.Helper()
		code, out := runCLI(t, "check", "--format", "json", "-s", dir)
		var fs []finding
		if code != 1 || json.Unmarshal([]byte(out), &fs) != nil {
			t.Fatalf("check --format json: exit %d\n%s", code, out)
		}
		return fs
	}
	has := func(fs []finding, want finding) bool {
		for _, f := range fs {
			if f == want {
				return true
			}
		}
		return false
	}
	raid := finding{File: "rules/node.yaml", Line: 36, Col: 16, Rule: "alert-no-runbook", Severity: "error"}
	before := check()
	if len(before) != 16 || !has(before, raid) || !has(before, finding{File: "deploy/prometheus/platform-bad.yaml", Line: 17, Col: 51, Rule: "alert-expr", Severity: "error"}) {
		t.Fatalf("findings: %+v", before)
	}
	code, out := runCLI(t, "new", "alert", "node/NodeRAIDDegraded", "-s", dir)
	if code != 0 {
		t.Fatalf("new alert: exit %d\n%s", code, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "content", "node", "NodeRAIDDegraded.md"))
	if err != nil || !strings.Contains(string(page), `severity: "critical"`) || !strings.Contains(string(page), "node_md_disks_required") {
		t.Fatalf("runbook written: %v\n%s", err, page)
	}
	// The alert's finding is gone; the new runbook reminds of its TODO prompts.
	after := check()
	todo := finding{File: "content/node/NodeRAIDDegraded.md", Line: 7, Col: 9, Rule: "todo-placeholder", Severity: "warning"}
	if len(after) != len(before) || has(after, raid) || !has(after, todo) {
		t.Errorf("after new alert: %+v", after)
	}
}
