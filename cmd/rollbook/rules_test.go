package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuleSeverities: rules: in rollbook.yaml changes what check and
// build fail on, check --format json shows the severity in effect, and
// --strict still fails on the warnings an override leaves.
func TestRuleSeverities(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		t.Helper()
		f := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("content/a.md", "---\ntitle: A\n---\nSee [the missing page](missing.md).\n")
	if code, out := runCLI(t, "build", "-s", dir); code == 0 || !strings.Contains(out, "error broken-link") {
		t.Fatalf("build without rules: exit %d\n%s", code, out)
	}

	write("rollbook.yaml", "rules:\n  broken-link: warning\n")
	code, out := runCLI(t, "check", "--format", "json", "-s", dir)
	var fs []struct {
		Rule, Severity string
		Default        string `json:"default_severity"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &fs) != nil || len(fs) != 1 || fs[0].Rule != "broken-link" || fs[0].Severity != "warning" || fs[0].Default != "error" {
		t.Fatalf("check --format json with broken-link: warning: exit %d\n%s", code, out)
	}
	if code, out := runCLI(t, "check", "--strict", "-s", dir); code != 1 || !strings.Contains(out, "warning broken-link") {
		t.Fatalf("check --strict with a warning left: exit %d\n%s", code, out)
	}
	if code, out := runCLI(t, "build", "-s", dir); code != 0 || !strings.Contains(out, "warning broken-link") {
		t.Fatalf("build with broken-link: warning: exit %d\n%s", code, out)
	}

	write("rollbook.yaml", "rules:\n  broken-link: off\n")
	if code, out := runCLI(t, "check", "--strict", "-s", dir); code != 0 || !strings.Contains(out, "0 error(s), 0 warning(s)") {
		t.Fatalf("check --strict with broken-link: off: exit %d\n%s", code, out)
	}

	write("rollbook.yaml", "rules:\n  broken-links: off\n")
	if code, out := runCLI(t, "check", "-s", dir); code == 0 || !strings.Contains(out, `rollbook.yaml:2:3: rules: unknown rule "broken-links"; write one of: `) || !strings.Contains(out, "broken-link, ") {
		t.Fatalf("unknown rule: exit %d\n%s", code, out)
	}
}
