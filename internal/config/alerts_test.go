package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAlertConfig(t *testing.T) {
	for _, tc := range []struct {
		yaml, err string
		required  []string
		line, col int
	}{
		{"title: x\n", "", []string{"critical"}, 0, 0},
		{"alert_rules:\n  - rules/*.yaml\nalerts: {require_runbook: [critical, warning]}\n", "", []string{"critical", "warning"}, 2, 5},
		{"alert_rules: [\"rules/*.yaml\"]\nalerts: {require_runbook: []}\n", "", []string{}, 1, 15},
		{"alert_rules:\n  - ../elsewhere/*.yaml\n", "rollbook.yaml:2:5: alert_rules: pattern \"../elsewhere/*.yaml\" leaves the project folder", nil, 0, 0},
		{"alerts: {require_runbooks: [critical]}\n", "require_runbooks", nil, 0, 0},
	} {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, FileName), []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(root)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if got := c.RequiredSeverities(); strings.Join(got, ",") != strings.Join(tc.required, ",") {
			t.Errorf("%q: required %v", tc.yaml, got)
		}
		if gs := c.AlertGlobs(); tc.line > 0 && (len(gs) != 1 || gs[0].Line != tc.line || gs[0].Col != tc.col) {
			t.Errorf("%q: globs %+v", tc.yaml, gs)
		}
	}
}
