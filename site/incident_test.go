package site

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/golden"
	"github.com/rollbook/rollbook/internal/plan"
)

// TestInputsFormGolden holds the inputs form, the filled-command markup
// and the checklist bar of a runbook with inputs to a golden file: the
// markup incident.js reads.
func TestInputsFormGolden(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"rollbook.yaml": "title: Test runbooks\nminify: false\n",
		"content/runbooks/disk-full.md": `---
title: Disk full
kind: alert
inputs:
  - {name: node, description: "the node <b>filling</b> up", example: ip-10-0-1-7, pattern: "[a-z0-9.-]+"}
  - {name: mount, default: /var/lib/docker}
---
## Meaning
x
## Mitigation
- [ ] Paged the owner
- [x] Opened the incident

` + "```sh\nssh {{ .node }} df -h {{ .mount }}\n```\n",
	}
	for rel, src := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := build(t, root, nil); err != nil {
		t.Fatal(err)
	}
	page := read(t, root, "runbooks/disk-full/index.html")
	var parts []string
	for _, re := range []string{`(?s)<form class="inputs".*?</form>`, `(?s)<div class="checklist-bar".*?</div>`, `(?s)<ul>\s*<li><input type="checkbox".*?</ul>`, `(?s)<div class="code" data-inputs=.*?</div>\s*</div>|<div class="code" data-inputs=.*?</pre></div>`} {
		m := regexp.MustCompile(re).FindString(page)
		if m == "" {
			t.Fatalf("page lacks %s:\n%s", re, page)
		}
		parts = append(parts, m)
	}
	golden.Check(t, filepath.Join("testdata", "golden", "inputs-form.html"), []byte(strings.Join(parts, "\n\n")+"\n"))
}

func TestShortRef(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"example-orders:2.3.1", "example-orders:2.3.1"},
		{"registry.internal/team/payments-api:2.4.0", "payments-api:2.4.0"},
		{"rollbook-build/example-orders-canary:ceeb90b047b7", "example-ord…eeb90b047b7"},
		{"ghcr.io/", "ghcr.io/"},
	}
	for _, tt := range tests {
		if got := (DrilledImage{Ref: tt.ref}).ShortRef(); got != tt.want {
			t.Errorf("ShortRef(%s) = %s, want %s", tt.ref, got, tt.want)
		}
		if n := len([]rune(DrilledImage{Ref: tt.ref}.ShortRef())); n > shortRefLen {
			t.Errorf("ShortRef(%s) is %d characters", tt.ref, n)
		}
	}
}

func TestRunbookURL(t *testing.T) {
	src := "groups:\n  - name: g\n    rules:\n      - alert: DiskFull\n        expr: max by (node) (fs_used) > 0.9\n        annotations: {summary: \"{{ $labels.mountpoint }} is full\"}\n"
	ins := []plan.Input{{Name: "node"}, {Name: "mount", Label: "mountpoint"}, {Name: "reason"}}
	a := exampleAlertView(t, src)
	if got, want := a.RunbookURL("https://runbooks.example.com/", ins), "https://runbooks.example.com/alerts/DiskFull/?node={{ $labels.node | urlquery }}&mount={{ $labels.mountpoint | urlquery }}"; got != want {
		t.Errorf("RunbookURL = %s, want %s", got, want)
	}
	if got := a.RunbookURL("/", []plan.Input{{Name: "reason"}}); got != "" {
		t.Errorf("no input a label fills, yet %s", got)
	}
}

func exampleAlertView(t *testing.T, src string) *AlertView {
	t.Helper()
	alerts := alertrule.Alerts([]*alertrule.File{alertrule.Parse("rules.yaml", []byte(src))})
	if len(alerts) != 1 {
		t.Fatalf("%d alerts in %s", len(alerts), src)
	}
	return &AlertView{Joined: &alertrule.Joined{Alert: alerts[0]}}
}
