package site

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/diag"
)

// writeTree writes files (slash paths relative to the root) into a new
// temporary folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// anchorFindings are the broken-anchor findings as file:line:col, the
// message's fragment and the fix.
func anchorFindings(ds diag.List) []string {
	var out []string
	for _, f := range ds {
		if f.Rule == "broken-anchor" {
			out = append(out, fmt.Sprintf("%s:%d:%d %s | %s", f.File, f.Line, f.Col, f.Severity, f.Fix))
		}
	}
	return out
}

// anchorTarget is the page the cases link to: every kind of id a page has.
const anchorTarget = `---
title: Target
---
## Mitigation

## Über Straße

## Steps

## Steps

## Drain {#drain-node}

<a name="raw-anchor"></a>
`

func TestAnchors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"heading", map[string]string{"a.md": "# A\n\nSee [it](b.md#mitigation).\n"}, nil},
		{"missing heading names the closest id", map[string]string{"a.md": "# A\n\nSee [it](b.md#mitigaton).\n"},
			[]string{"content/a.md:3:10 error | link to #mitigation (the closest id there), or pin the old id on its heading with {#mitigaton}"}},
		{"ids are matched with their case", map[string]string{"a.md": "# A\n\n[x](b.md#Mitigation)\n"},
			[]string{"content/a.md:3:5 error | write #mitigation: ids are matched with their case"}},
		{"unicode heading, as written and percent-encoded", map[string]string{"a.md": "# A\n\n[x](b.md#über-straße) [y](b.md#%C3%BCber-stra%C3%9Fe)\n"}, nil},
		{"unicode heading spelt otherwise", map[string]string{"a.md": "# A\n\n[x](b.md#uber-strasse)\n"},
			[]string{"content/a.md:3:5 error | link to #über-straße (the closest id there), or pin the old id on its heading with {#uber-strasse}"}},
		{"duplicate headings get -1", map[string]string{"a.md": "# A\n\n[x](b.md#steps) [y](b.md#steps-1)\n"}, nil},
		{"no third duplicate", map[string]string{"a.md": "# A\n\n[x](b.md#steps-2)\n"},
			[]string{"content/a.md:3:5 error | link to #steps-1 (the closest id there), or pin the old id on its heading with {#steps-2}"}},
		{"pinned id", map[string]string{"a.md": "# A\n\n[x](b.md#drain-node)\n"}, nil},
		{"pinned id replaces the made one", map[string]string{"a.md": "# A\n\n[x](b.md#drain)\n"},
			[]string{"content/a.md:3:5 error | link to #drain-node (the closest id there), or pin the old id on its heading with {#drain}"}},
		{"raw HTML anchor", map[string]string{"rollbook.yaml": "unsafe_html: true\n", "a.md": "# A\n\n[x](b.md#raw-anchor)\n"}, nil},
		{"raw HTML anchor the sanitizer keeps (the default)", map[string]string{"a.md": "# A\n\n[x](b.md#raw-anchor)\n"}, nil},
		{"raw HTML shown escaped is no anchor", map[string]string{"rollbook.yaml": "unsafe_html: escape\n", "a.md": "# A\n\n[x](b.md#raw-anchor)\n"},
			[]string{"content/a.md:3:5 error | link to #drain-node (the closest id there), or pin the old id on its heading with {#raw-anchor}"}},
		{"theme ids", map[string]string{"a.md": "# A\n\n[x](b.md#main) [top](b.md#top) [empty](b.md#)\n"}, nil},
		{"own page", map[string]string{"a.md": "# A\n\n## Rollback\n\n[up](#rollback) [bad](#rolback)\n"},
			[]string{"content/a.md:5:23 error | link to #rollback (the closest id there), or pin the old id on its heading with {#rolback}"}},
		{"site path and URL-style link", map[string]string{"a.md": "# A\n\n[x](/b/#mitigation) [y](/b/#nope) [z](../b/#steps)\n"},
			[]string{"content/a.md:3:25 error | link to #steps (the closest id there), or pin the old id on its heading with {#nope}"}},
		{"folder index pages", map[string]string{
			"a.md":            "# A\n\n[x](ops/#intro) [y](ops/README.md#intro) [z](ops/_index.md#intro) [w](ops/#outro)\n",
			"ops/_index.md":   "---\ntitle: Ops\n---\n## Intro\n",
			"ops/README.md":   "# Ops readme\n\n## Intro\n",
			"ops/deploy.md":   "# Deploy\n",
			"ops/sub/x.md":    "# X\n\n[up](../#intro)\n",
			"ops/sub/y.md":    "# Y\n\n[up](../README.md#intro)\n",
			"ops/sub/zzzz.md": "# Z\n\n[up](../_index.md#intrO)\n",
		}, []string{
			"content/a.md:3:71 error | link to #intro (the closest id there), or pin the old id on its heading with {#outro}",
			"content/ops/sub/zzzz.md:3:6 error | write #intro: ids are matched with their case",
		}},
		{"front matter links", map[string]string{"a.md": "---\ntitle: A\nsee_also:\n  - b.md#mitigation\n  - b.md#mitigations\nrelated: {db: '#nowhere', log: /var/log/x}\n---\n## Here\n"},
			[]string{
				"content/a.md:3:1 error | link to #mitigation (the closest id there), or pin the old id on its heading with {#mitigations}",
				"content/a.md:6:1 error | link to #here (the closest id there), or pin the old id on its heading with {#nowhere}",
			}},
		{"alert runbook_url", map[string]string{
			"rollbook.yaml": "alert_rules: [rules.yaml]\n",
			"rules.yaml": "groups:\n- name: g\n  rules:\n  - alert: DiskFull\n    expr: up == 0\n    annotations: {runbook_url: /b/#mitigation}\n" +
				"  - alert: DiskGone\n    expr: up == 0\n    annotations: {runbook_url: /b/#mitigate}\n" +
				"  - alert: DiskSlow\n    expr: up == 0\n    annotations: {runbook_url: /alerts/DiskSlow/#diagnosys}\n" +
				"  - alert: Elsewhere\n    expr: up == 0\n    annotations: {runbook_url: 'https://wiki.example.com/x#anything'}\n",
			"a.md":        "# A\n\n[x](/alerts/DiskFull/#mitigation) [y](/alerts/DiskFull/#mitigatoin) [z](/alerts/DiskSlow/#impact) [panel](/alerts/DiskSlow/#panel-alert-0)\n\n[no panel](/alerts/DiskSlow/#panel-alert-1)\n",
			"DiskSlow.md": "---\nkind: alert\nreviewed: 2026-11-01\n---\n## Meaning\n\n## Impact\n\n## Diagnosis\n\n## Mitigation\n",
		}, []string{
			"content/a.md:3:39 error | link to #mitigation (the closest id there), or pin the old id on its heading with {#mitigatoin}",
			"content/a.md:5:12 error | link to #panel-alert-0 (the closest id there)",
			"rules.yaml:9:32 error | link to #mitigation (the closest id there), or pin the old id on its heading with {#mitigate}",
			"rules.yaml:12:32 error | link to #diagnosis (the closest id there), or pin the old id on its heading with {#diagnosys}",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"content/b.md": anchorTarget, "rollbook.yaml": "title: t\n"}
			for name, data := range tc.files {
				if !strings.Contains(name, "/") && strings.HasSuffix(name, ".md") {
					name = "content/" + name
				} else if strings.HasPrefix(name, "ops/") {
					name = "content/" + name
				}
				files[name] = data
			}
			root := writeTree(t, files)
			ds, err := Check(context.Background(), Options{Root: root, Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			got := anchorFindings(ds)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("check:\n%s\nwant:\n%s\n(all findings: %v)", strings.Join(got, "\n"), strings.Join(tc.want, "\n"), ds)
			}
			// build finds the same, and fails on them.
			_, err = Build(context.Background(), Options{Root: root, Now: testNow, Memory: true, Force: true})
			var built []string
			if fe, ok := IsFindings(err); ok {
				built = anchorFindings(fe.Findings)
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(built, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("build:\n%s\nwant:\n%s", strings.Join(built, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestBrokenAnchorSeverity: broken-anchor has its own severity, apart
// from broken-link's.
func TestBrokenAnchorSeverity(t *testing.T) {
	root := writeTree(t, map[string]string{
		"rollbook.yaml": "rules: {broken-anchor: warning}\n",
		"content/a.md":  "# A\n\n[x](b.md#nope) [y](c.md)\n",
		"content/b.md":  anchorTarget,
	})
	ds, err := Check(context.Background(), Options{Root: root, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	got := findingKeys(ds)
	want := []string{"content/a.md:3 warning broken-anchor", "content/a.md:3 error broken-link"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("findings %v, want %v", got, want)
	}
}
