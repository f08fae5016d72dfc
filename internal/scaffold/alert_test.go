package scaffold

import (
	"strings"
	"testing"
	"time"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/plan"
)

func TestAlertSkeleton(t *testing.T) {
	f := alertrule.Parse("rules/node.yaml", []byte("groups:\n  - name: node\n    rules:\n      - alert: NodeRAIDDegraded\n        expr: node_md_disks_required - node_md_disks{state=\"active\"} > 0\n        for: 15m\n        labels: {severity: critical}\n        annotations: {summary: RAID array is degraded.}\n"))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		rule *alertrule.Alert
		want []string
	}{
		{alertrule.Alerts([]*alertrule.File{f})[0], []string{`alert: "NodeRAIDDegraded"`, `severity: "critical"`, "```promql\nnode_md_disks_required - node_md_disks{state=\"active\"} > 0\n```", "holds for 15m (rules/node.yaml:4, group node)", "RAID array is degraded."}},
		{nil, []string{`alert: "NodeRAIDDegraded"`, "severity: warning", "no rule file yet"}},
		// The labels the expression groups by and the annotations print
		// become inputs the Diagnosis command takes.
		{crashLooping(t), []string{"inputs:\n  - {name: container, ", "\n  - {name: namespace, ", "\n  - {name: pod, ", "runbook_url: BASE_URL/alerts/KubePodCrashLooping/?container={{ $labels.container | urlquery }}&namespace={{ $labels.namespace | urlquery }}&pod={{ $labels.pod | urlquery }}", "echo {{ .container }} {{ .namespace }} {{ .pod }}"}},
	} {
		name := "NodeRAIDDegraded"
		if tc.rule != nil {
			name = tc.rule.Name
		}
		src, err := AlertSkeleton(name, "node", tc.rule, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range append(tc.want, "## Meaning", "## Impact", "## Diagnosis", "## Mitigation") {
			if !strings.Contains(string(src), w) {
				t.Errorf("skeleton lacks %q:\n%s", w, src)
			}
		}
		p, ds := plan.Parse("content/node/x.md", "node/x.md", src)
		if len(ds) != 0 || p.Kind != plan.KindAlert || strings.Join(p.AlertNames(), ",") != name {
			t.Fatalf("skeleton does not parse as an alert runbook: %v %+v", ds, p)
		}
		// Only the reminder that rollbook new's TODO prompts are left.
		if ds := check.Plan(p, "content/node/x.md", check.Options{Now: now}); len(ds) != 1 || ds[0].Rule != "todo-placeholder" {
			t.Errorf("skeleton has findings: %v", ds)
		}
	}
}

func crashLooping(t *testing.T) *alertrule.Alert {
	t.Helper()
	f := alertrule.Parse("rules/k8s.yaml", []byte(`groups:
  - name: apps
    rules:
      - alert: KubePodCrashLooping
        expr: sum by (namespace, pod) (rate(kube_pod_container_status_restarts_total[5m])) > 0
        labels: {severity: warning}
        annotations: {description: "{{ $labels.pod }} ({{ $labels.container }}) restarts"}
`))
	return alertrule.Alerts([]*alertrule.File{f})[0]
}
