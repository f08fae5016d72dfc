package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/markdown"
)

func load(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(dir)
}

func TestRules(t *testing.T) {
	c, err := load(t, "title: x\nrules:\n  broken-link: warning\n  stale-review: off\n  unknown-key: error\n")
	if err != nil {
		t.Fatal(err)
	}
	want := check.Severities{"broken-link": diag.Warning, "stale-review": check.Off, "unknown-key": diag.Error}
	got := c.Severities()
	if len(got) != len(want) {
		t.Fatalf("severities %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	c, err = load(t, "title: x\n")
	if err != nil || len(c.Severities()) != 0 {
		t.Fatalf("no rules: %v %v", c.Severities(), err)
	}
}

func TestRulesErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown rule", "title: x\nrules:\n  broken-link: warning\n  brokn-links: off\n",
			[]string{"rollbook.yaml:4:3:", `unknown rule "brokn-links"`, "write one of: ", "broken-link", "required-section", "stale-review"}},
		{"bad severity", "rules:\n  stale-review: ignore\n",
			[]string{"rollbook.yaml:2:17:", `severity "ignore"`, "error, warning, off"}},
		{"not a mapping", "rules: [broken-link]\n", []string{"rollbook.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.yaml)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestRepoURL(t *testing.T) {
	tests := []struct{ yaml, edit, view string }{
		{"repo_url: https://github.com/acme/runbooks/\n", "https://github.com/acme/runbooks/edit/main/docs/a.md", "https://github.com/acme/runbooks/blob/main/docs/a.md"},
		{"repo_url: https://gitlab.example.com/acme/runbooks\nedit_path: /-/edit/trunk/ops\n", "https://gitlab.example.com/acme/runbooks/-/edit/trunk/ops/docs/a.md", "https://gitlab.example.com/acme/runbooks/-/blob/trunk/ops/docs/a.md"},
		{"repo_url: https://git.example.com/r\nedit_path: src/branch/main\n", "https://git.example.com/r/src/branch/main/docs/a.md", "https://git.example.com/r/src/branch/main/docs/a.md"},
		{"title: x\n", "", ""},
	}
	for _, tt := range tests {
		c, err := load(t, tt.yaml)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.EditURL("docs/a.md"); got != tt.edit {
			t.Errorf("%q: EditURL %q, want %q", tt.yaml, got, tt.edit)
		}
		if got := c.RepoFileURL("docs/a.md"); got != tt.view {
			t.Errorf("%q: RepoFileURL %q, want %q", tt.yaml, got, tt.view)
		}
	}
	if _, err := load(t, "repo_url: github.com/acme/runbooks\n"); err == nil || !strings.Contains(err.Error(), "write for example https://") {
		t.Errorf("repo_url without a scheme: %v", err)
	}
}

func TestUnsafeHTML(t *testing.T) {
	tests := []struct {
		yaml string
		want markdown.HTMLMode
		err  []string
	}{
		{"title: x\n", markdown.HTMLSanitize, nil},
		{"unsafe_html: false\n", markdown.HTMLSanitize, nil},
		{"unsafe_html: true\n", markdown.HTMLUnsafe, nil},
		{"unsafe_html: escape\n", markdown.HTMLEscape, nil},
		{"title: x\nunsafe_html: yes\n", 0, []string{"rollbook.yaml:2:14:", "unsafe_html: yes is not one of false, true, escape", "write false (the default)"}},
		{"unsafe_html: \"true\"\n", 0, []string{"rollbook.yaml:1:14:", "not one of false, true, escape"}},
		{"unsafe_html: [escape]\n", 0, []string{"rollbook.yaml:1:", "not one of false, true, escape"}},
	}
	for _, tt := range tests {
		c, err := load(t, tt.yaml)
		if tt.err == nil {
			if err != nil || c.HTMLMode() != tt.want {
				t.Errorf("%q: mode %v, err %v; want %v", tt.yaml, c.HTMLMode(), err, tt.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q loaded", tt.yaml)
			continue
		}
		for _, w := range tt.err {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not say %q", tt.yaml, err, w)
			}
		}
	}
}
