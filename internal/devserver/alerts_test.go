package devserver

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A rule file of alert_rules outside content/ is watched: saving it
// updates the Alert panel of its runbook, with inotify and with polling.
func TestRuleFileWatched(t *testing.T) {
	rule := func(summary string) string {
		return "groups:\n  - name: g\n    rules:\n      - alert: KubePodCrashLooping\n        expr: up == 0\n        labels: {severity: warning}\n        annotations: {summary: " + summary + "}\n"
	}
	for _, mode := range []struct {
		name string
		poll time.Duration
	}{{"inotify", 0}, {"poll", 20 * time.Millisecond}} {
		t.Run(mode.name, func(t *testing.T) {
			root := fixture(t)
			write(t, filepath.Join(root, "rollbook.yaml"), "alert_rules: [rules/*.yaml]\n")
			write(t, filepath.Join(root, "rules", "k8s.yaml"), rule("First summary."))
			write(t, filepath.Join(root, "content", "KubePodCrashLooping.md"), "---\nkind: alert\nreviewed: 2026-11-20\n---\n## Meaning\n\nIt crashes.\n\n## Mitigation\n\nRun `kubectl rollout undo deploy/x`.\n")
			_, hs, _ := startWith(t, Options{Root: root, Poll: mode.poll})
			eventually(t, "the first summary", func() bool {
				_, body := get(t, hs.URL+"/kubepodcrashlooping/")
				return strings.Contains(body, "First summary.")
			})
			write(t, filepath.Join(root, "rules", "k8s.yaml"), rule("Second summary."))
			eventually(t, "the saved rule file to be served", func() bool {
				_, body := get(t, hs.URL+"/kubepodcrashlooping/")
				return strings.Contains(body, "Second summary.")
			})
		})
	}
}
