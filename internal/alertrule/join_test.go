package alertrule

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJoin(t *testing.T) {
	pages := []*Page{
		{Path: "k8s/KubePodCrashLooping.md", URL: "/k8s/kubepodcrashlooping/", Names: []string{"KubePodCrashLooping"}},
		{Path: "k8s/pods.md", URL: "/k8s/pods/", Names: []string{"KubePodNotReady", "kubeletdown"}},
		{Path: "k8s/_index.md", URL: "/k8s/"},
		{Path: "plans/rollback.md", URL: "/plans/rollback/"},
	}
	for _, tc := range []struct {
		base, name, url string
		state           URLState
		page, by        string
	}{
		{"https://rb.example.com/docs/", "A", "https://rb.example.com/docs/k8s/KubePodCrashLooping.md", Internal, "k8s/KubePodCrashLooping.md", ByURL},
		{"https://rb.example.com/docs/", "A", "https://RB.example.com/Docs/k8s/kubepodcrashlooping/#diagnosis", Internal, "k8s/KubePodCrashLooping.md", ByURL},
		{"https://rb.example.com/docs/", "A", "/docs/k8s/KubePodCrashLooping", Internal, "k8s/KubePodCrashLooping.md", ByURL},
		{"https://rb.example.com/docs/", "A", "k8s/pods", Internal, "k8s/pods.md", ByURL},
		{"https://rb.example.com/docs/", "A", "https://rb.example.com/docs/k8s/", Internal, "k8s/_index.md", ByURL},
		{"https://rb.example.com/docs/", "A", "https://rb.example.com/docs/plans/rollback.html?x=1", Internal, "plans/rollback.md", ByURL},
		{"https://rb.example.com/docs/", "KubePodNotReady", "https://rb.example.com/docs/alerts/KubePodNotReady/", Internal, "k8s/pods.md", ByName},
		{"https://rb.example.com/docs/", "Gone", "https://rb.example.com/docs/alerts/Gone/", Broken, "", ""},
		{"https://rb.example.com/docs/", "A", "https://rb.example.com/docs/k8s/nope.md", Broken, "", ""},
		{"https://rb.example.com/docs/", "A", "https://rb.example.com/other/x", External, "", ""},
		{"https://rb.example.com/docs/", "A", "https://wiki.example.com/x", External, "", ""},
		{"/", "KubePodCrashLooping", "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping", External, "k8s/KubePodCrashLooping.md", ByName},
		{"/", "KubeletDown", "https://x.example/{{ $labels.job }}", Templated, "k8s/pods.md", ByName},
		{"/", "A", "see the wiki", Invalid, "", ""},
		{"/", "A", "ftp://x/y", Invalid, "", ""},
		{"/", "A", "https:///nohost", Invalid, "", ""},
		{"/", "A", "http://[::1", Invalid, "", ""},
		{"/", "KubePodCrashLooping", "", NoURL, "k8s/KubePodCrashLooping.md", ByName},
	} {
		ann := ""
		if tc.url != "" {
			ann = "\n        annotations: {runbook_url: '" + strings.ReplaceAll(tc.url, "'", "''") + "'}"
		}
		f := Parse("r.yaml", []byte("groups:\n  - name: g\n    rules:\n      - alert: "+tc.name+"\n        expr: up == 0"+ann+"\n"))
		if len(f.Problems) > 0 {
			t.Fatalf("%s: %v", tc.url, f.Problems)
		}
		ix := Join([]*File{f}, pages, tc.base)
		j := ix.Alerts[0]
		got := ""
		if j.Page != nil {
			got = j.Page.Path
		}
		if j.State != tc.state || got != tc.page || j.By != tc.by {
			t.Errorf("%s %q: state %d page %q by %q; want %d %q %q", tc.base, tc.url, j.State, got, j.By, tc.state, tc.page, tc.by)
		}
		if j.State == Invalid && j.Problem == "" {
			t.Errorf("%q: invalid without a reason", tc.url)
		}
		if (j.Page != nil || j.State == External) != j.HasRunbook() {
			t.Errorf("%q: HasRunbook %v", tc.url, j.HasRunbook())
		}
	}
}

func TestIndexLookups(t *testing.T) {
	f := Parse("r.yaml", []byte("groups:\n  - name: g\n    rules:\n      - alert: KubeClientCertificateExpiration\n        expr: up\n        annotations: {runbook_url: /certs/}\n"))
	ix := Join([]*File{f}, []*Page{{Path: "certs.md", URL: "/certs/"}}, "/")
	if got := ix.Closest("KubeClientCertificateExpiry"); got != "KubeClientCertificateExpiration" {
		t.Errorf("closest = %q", got)
	}
	if got := ix.Closest("NodeDown"); got != "" {
		t.Errorf("closest of a far name = %q", got)
	}
	if len(ix.Named("kubeclientcertificateexpiration")) != 1 || !ix.Linked("certs.md") || len(ix.ForPage("certs.md")) != 1 {
		t.Error("lookups by name, link and page")
	}
}

func TestGlobs(t *testing.T) {
	for _, tc := range []struct {
		glob, path string
		want       bool
	}{
		{"rules/*.yaml", "rules/node.yaml", true},
		{"rules/*.yaml", "rules/sub/node.yaml", false},
		{"deploy/**/*.yaml", "deploy/a.yaml", true},
		{"deploy/**/*.yaml", "deploy/a/b/c.yaml", true},
		{"deploy/**", "deploy/a/b", true},
		{"**/rules.yml", "x/y/rules.yml", true},
		{"deploy/**/*.yaml", "other/a.yaml", false},
	} {
		if got := Match(tc.glob, tc.path); got != tc.want {
			t.Errorf("Match(%q, %q) = %v", tc.glob, tc.path, got)
		}
	}
	for _, bad := range []string{"", "/etc/*.yaml", "../rules/*.yaml", "a/../../b", "rules/[.yaml"} {
		if CheckGlob(bad) == nil {
			t.Errorf("CheckGlob(%q) accepted", bad)
		}
	}
}

func TestExpand(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"rules/a.yaml", "rules/b.yml", "deploy/x/c.yaml", "deploy/.git/d.yaml"} {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("groups: []\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(outside, []byte("groups: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "rules", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	got, err := Expand(root, []string{"rules/*.yaml", "deploy/**/*.yaml", "missing/*.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"rules/a.yaml"}, {"deploy/x/c.yaml"}, nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Expand = %v, want %v (no symlink, no dot folder)", got, want)
	}
	if _, err := Expand(root, []string{"../*.yaml"}); err == nil {
		t.Error("a pattern outside the project was expanded")
	}
}
