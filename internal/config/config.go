// Package config owns rollbook.yaml: where content and output live, the
// site's title and base URL, and the knobs the checks and themes read.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/rollbook/rollbook/internal/check"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/markdown"
	"github.com/rollbook/rollbook/internal/plan"
)

// FileName is the config file looked for in the project folder.
const FileName = "rollbook.yaml"

// Config is a site's configuration. Paths are relative to Root.
type Config struct {
	// Root is the project folder (where rollbook.yaml is, or would be).
	Root string `yaml:"-"`
	// File is the config file read, or "" when defaults are used.
	File string `yaml:"-"`

	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	BaseURL     string `yaml:"base_url"`
	ContentDir  string `yaml:"content_dir"`
	PublicDir   string `yaml:"public_dir"`
	DrillsDir   string `yaml:"drills_dir"`
	Theme       string `yaml:"theme"`
	// UnsafeHTML is what raw HTML in Markdown becomes: false (or absent)
	// keeps what an allowlist allows, true passes everything through,
	// escape shows it as text. Read it through HTMLMode.
	UnsafeHTML any               `yaml:"unsafe_html"`
	StaleAfter string            `yaml:"stale_after"`
	Minify     *bool             `yaml:"minify"`
	Params     map[string]any    `yaml:"params"`
	PromQL     map[string]string `yaml:"promql"`
	// Gameday holds the drills' defaults.
	Gameday Gameday `yaml:"gameday"`
	// Rules changes rule severities (SPEC 1.4): rule name -> error,
	// warning or off. Read it through Severities.
	Rules map[string]string `yaml:"rules"`
	// AlertRules are globs of Prometheus rule files and PrometheusRule
	// manifests, relative to Root (SPEC 4); see alerts.go.
	AlertRules []string `yaml:"alert_rules"`
	Alerts     Alerts   `yaml:"alerts"`
	// RepoURL is the repository the project folder lives in, for example
	// https://github.com/acme/runbooks; it gives pages an "Edit this page"
	// link and links to repository files that are not content a target.
	RepoURL string `yaml:"repo_url"`
	// EditPath follows RepoURL to edit a file of the project folder
	// (default edit/main/; for a project in a subfolder of the repository
	// write edit/main/ops/runbooks/). Its blob/ twin views a file.
	EditPath string `yaml:"edit_path"`
	// ExternalLinks configures rollbook check --external (links.go).
	ExternalLinks ExternalLinks `yaml:"external_links"`

	staleAfter time.Duration
	htmlMode   markdown.HTMLMode
	severities check.Severities
	alertGlobs []check.Glob
}

// Gameday is rollbook.yaml's gameday: block.
type Gameday struct {
	// LockBudget is how long a migration may block the service's queries
	// in a drill unless the migration's own lock_budget says (SPEC 3.3).
	LockBudget string `yaml:"lock_budget"`

	lockBudget time.Duration
}

// LockBudget is gameday.lock_budget, 0 when not set.
func (c *Config) LockBudget() time.Duration { return c.Gameday.lockBudget }

// Load reads root/rollbook.yaml if it exists and fills in defaults.
func Load(root string) (*Config, error) {
	c := &Config{Root: root}
	file := filepath.Join(root, FileName)
	src, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		c.File = file
		if err := yaml.UnmarshalWithOptions(src, c, yaml.Strict()); err != nil {
			return nil, fmt.Errorf("%s: %s", FileName, yaml.FormatError(err, false, false))
		}
		if err := c.readRules(src); err != nil {
			return nil, err
		}
		if err := c.readAlerts(src); err != nil {
			return nil, err
		}
		if err := c.readUnsafeHTML(src); err != nil {
			return nil, err
		}
	}
	if err := c.defaults(); err != nil {
		return nil, fmt.Errorf("%s: %w", FileName, err)
	}
	return c, nil
}

func (c *Config) defaults() error {
	if c.Title == "" {
		c.Title = "Runbooks"
	}
	if c.ContentDir == "" {
		c.ContentDir = "content"
	}
	if c.PublicDir == "" {
		c.PublicDir = "public"
	}
	if c.DrillsDir == "" {
		c.DrillsDir = "drills"
	}
	if c.Theme == "" {
		c.Theme = "default"
	}
	if c.BaseURL == "" {
		c.BaseURL = "/"
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("base_url %q is not a URL; write https://runbooks.example.com/ or /sub/path/", c.BaseURL)
	}
	if !strings.HasSuffix(c.BaseURL, "/") {
		c.BaseURL += "/"
	}
	if c.RepoURL != "" {
		u, err := url.Parse(c.RepoURL)
		if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("repo_url %q is not a repository URL; write for example https://github.com/acme/runbooks", c.RepoURL)
		}
		c.RepoURL = strings.TrimSuffix(c.RepoURL, "/")
	}
	if c.EditPath == "" {
		c.EditPath = "edit/main/"
	}
	c.EditPath = strings.Trim(c.EditPath, "/") + "/"
	if c.Gameday.LockBudget != "" {
		d, err := plan.ParseDuration(c.Gameday.LockBudget)
		if err != nil || d <= 0 {
			return fmt.Errorf("gameday.lock_budget %q is not a duration; write for example 1s or 500ms", c.Gameday.LockBudget)
		}
		c.Gameday.lockBudget = d
	}
	c.staleAfter = 90 * 24 * time.Hour
	if c.StaleAfter != "" {
		d, err := plan.ParseDuration(c.StaleAfter)
		if err != nil || d <= 0 {
			return fmt.Errorf("stale_after %q is not a duration; write for example 90d", c.StaleAfter)
		}
		c.staleAfter = d
	}
	if err := c.ExternalLinks.defaults(); err != nil {
		return err
	}
	for _, p := range []*string{&c.ContentDir, &c.PublicDir, &c.DrillsDir} {
		*p = filepath.Clean(*p)
	}
	if filepath.Clean(c.PublicDir) == "." || filepath.Clean(c.PublicDir) == filepath.Clean(c.ContentDir) {
		return fmt.Errorf("public_dir %q would overwrite the project or its content; write public", c.PublicDir)
	}
	return nil
}

// Path resolves a configured path against the project root.
func (c *Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Root, p)
}

// readRules checks rules: against the rule registry, so a misspelt rule
// name fails with its position and the names that exist, instead of
// silently changing nothing.
func (c *Config) readRules(src []byte) error {
	if len(c.Rules) == 0 {
		return nil
	}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", FileName, err)
	}
	p, err := yaml.PathString("$.rules")
	if err != nil {
		return err
	}
	n, err := p.FilterFile(f)
	if err != nil {
		return fmt.Errorf("%s: rules: %w", FileName, err)
	}
	m, ok := n.(ast.MapNode)
	if !ok {
		return fmt.Errorf("%s: rules must map rule names to error, warning or off", FileName)
	}
	c.severities = check.Severities{}
	for it := m.MapRange(); it.Next(); {
		name := it.Key().GetToken().Value
		if _, ok := check.Lookup(name); !ok {
			pos := it.Key().GetToken().Position
			return fmt.Errorf("%s:%d:%d: rules: unknown rule %q; write one of: %s", FileName, pos.Line, pos.Column, name, strings.Join(check.RuleNames(), ", "))
		}
		sev := diag.Severity(c.Rules[name])
		switch sev {
		case diag.Error, diag.Warning, check.Off:
			c.severities[name] = sev
		default:
			pos := it.Value().GetToken().Position
			return fmt.Errorf("%s:%d:%d: rules: %s: severity %q is not one of error, warning, off; write for example %s: warning", FileName, pos.Line, pos.Column, name, sev, name)
		}
	}
	return nil
}

// readUnsafeHTML reads unsafe_html, refusing at its line and column a
// value that is none of false, true and escape: a typo must not pass raw
// HTML through, nor silently sanitize a site that asked for escaping.
func (c *Config) readUnsafeHTML(src []byte) error {
	if c.UnsafeHTML == nil {
		return nil
	}
	switch v := c.UnsafeHTML.(type) {
	case bool:
		c.htmlMode = markdown.HTMLSanitize
		if v {
			c.htmlMode = markdown.HTMLUnsafe
		}
		return nil
	case string:
		if v == "escape" {
			c.htmlMode = markdown.HTMLEscape
			return nil
		}
	}
	line, col := 1, 1
	if f, err := parser.ParseBytes(src, 0); err == nil {
		if p, err := yaml.PathString("$.unsafe_html"); err == nil {
			if n, err := p.FilterFile(f); err == nil && n.GetToken() != nil {
				line, col = n.GetToken().Position.Line, n.GetToken().Position.Column
			}
		}
	}
	return fmt.Errorf("%s:%d:%d: unsafe_html: %v is not one of false, true, escape; write false (the default) to keep the HTML GitHub and GitLab show and drop scripts, "+
		"true to pass all HTML through, or escape to show it as text", FileName, line, col, c.UnsafeHTML)
}

// HTMLMode is what raw HTML in Markdown becomes (unsafe_html).
func (c *Config) HTMLMode() markdown.HTMLMode { return c.htmlMode }

// Severities is what rules: changes, to apply to every finding of
// check and build.
func (c *Config) Severities() check.Severities { return c.severities }

// EditURL is where a file of the project folder (slash path relative to
// Root) is edited in the repository, or "" without repo_url.
func (c *Config) EditURL(rel string) string {
	if c.RepoURL == "" {
		return ""
	}
	return c.RepoURL + "/" + c.EditPath + rel
}

// RepoFileURL is where a file or folder of the project folder is viewed
// in the repository, or "" without repo_url. GitHub's and GitLab's edit
// paths (edit/BRANCH/, -/edit/BRANCH/) have a blob/ twin for viewing;
// another edit_path is used as it is.
func (c *Config) RepoFileURL(rel string) string {
	if c.RepoURL == "" {
		return ""
	}
	view := c.EditPath
	if rest, ok := strings.CutPrefix(view, "edit/"); ok {
		view = "blob/" + rest
	} else if rest, ok := strings.CutPrefix(view, "-/edit/"); ok {
		view = "-/blob/" + rest
	}
	return c.RepoURL + "/" + view + rel
}

// StaleAfterDuration is how long a plan may go unreviewed.
func (c *Config) StaleAfterDuration() time.Duration { return c.staleAfter }

// MinifyOutput reports whether HTML, CSS and JS are minified (default true).
func (c *Config) MinifyOutput() bool { return c.Minify == nil || *c.Minify }

// BasePath is the path part of base_url, always ending in "/".
func (c *Config) BasePath() string {
	u, _ := url.Parse(c.BaseURL)
	p := u.Path
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// AbsURL turns a site path ("/payments/api/") into an absolute URL for the
// sitemap. Without a host in base_url the path is returned under it.
func (c *Config) AbsURL(p string) string {
	return strings.TrimSuffix(c.BaseURL, "/") + "/" + strings.TrimPrefix(p, "/")
}
