package devserver

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Renaming a heading that another page and an alert's runbook_url link
// to fails the update with an error at each linking file, while the last
// good site is served; naming it back clears them.
func TestRenamedHeadingNamesLinkingFiles(t *testing.T) {
	root := fixture(t)
	write(t, filepath.Join(root, "rollbook.yaml"), "alert_rules: [rules/*.yaml]\n")
	write(t, filepath.Join(root, "rules", "k8s.yaml"), "groups:\n  - name: g\n    rules:\n      - alert: KubePodCrashLooping\n        expr: up == 0\n        labels: {severity: warning}\n        annotations: {runbook_url: /kubepodcrashlooping/#mitigation}\n")
	runbook := func(heading string) string {
		return "---\nkind: alert\nreviewed: 2026-11-20\n---\n## Meaning\n\nIt crashes.\n\n## Diagnosis\n\nLook.\n\n## " + heading + "\n\nRun `kubectl rollout undo deploy/x`.\n"
	}
	page := filepath.Join(root, "content", "KubePodCrashLooping.md")
	write(t, page, runbook("Mitigation"))
	write(t, filepath.Join(root, "content", "ops", "links.md"), "# Links\n\nWhen it crashes, [undo the rollout](../KubePodCrashLooping.md#mitigation).\n")
	s, hs, _ := start(t, root)
	if code, _ := get(t, hs.URL+"/ops/links/"); code != 200 {
		t.Fatalf("the linking page answers %d", code)
	}
	anchorErrors := func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []string
		if s.lastErr != nil {
			for _, f := range s.lastErr.Findings {
				if f.Rule == "broken-anchor" {
					out = append(out, f.String())
				}
			}
		}
		return out
	}
	write(t, page, runbook("Mitigation steps"))
	var got []string
	eventually(t, "the renamed heading to fail the update", func() bool { got = anchorErrors(); return len(got) == 2 })
	slices.Sort(got)
	want := []string{
		`content/ops/links.md:3:37: error broken-anchor: link "../KubePodCrashLooping.md#mitigation": #mitigation is no heading or anchor of content/KubePodCrashLooping.md; link to #mitigation-steps (the closest id there), or pin the old id on its heading with {#mitigation}`,
		`rules/k8s.yaml:7:36: error broken-anchor: runbook_url of alert KubePodCrashLooping: link "/kubepodcrashlooping/#mitigation": #mitigation is no heading or anchor of content/KubePodCrashLooping.md; link to #mitigation-steps (the closest id there), or pin the old id on its heading with {#mitigation}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, body := get(t, hs.URL+"/kubepodcrashlooping/"); !strings.Contains(body, `id="mitigation"`) {
		t.Error("the last good page is not served while the update fails")
	}
	// Pinning the old id mends both links.
	write(t, page, runbook("Mitigation steps {#mitigation}"))
	eventually(t, "the pinned id to clear the errors", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.lastErr == nil
	})
	if _, body := get(t, hs.URL+"/kubepodcrashlooping/"); !strings.Contains(body, `<h2 id="mitigation">Mitigation steps`) {
		t.Errorf("the pinned heading is not served:\n%.3000s", body)
	}
}
