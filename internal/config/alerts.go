package config

import (
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/check"
)

// Alerts configures the alert runbook checks (SPEC 4).
type Alerts struct {
	// RequireRunbook lists the alert severities that must have a runbook
	// page; unset means [critical], an empty list none.
	RequireRunbook *[]string `yaml:"require_runbook"`
}

// RequiredSeverities is alerts.require_runbook, or [critical] when unset.
func (c *Config) RequiredSeverities() []string {
	if c.Alerts.RequireRunbook == nil {
		return []string{"critical"}
	}
	return *c.Alerts.RequireRunbook
}

// AlertGlobs returns the alert_rules patterns with where each is written
// in rollbook.yaml (Files is left for the reader of the rules to count).
func (c *Config) AlertGlobs() []check.Glob {
	if c.alertGlobs == nil && len(c.AlertRules) > 0 {
		out := make([]check.Glob, len(c.AlertRules))
		for i, g := range c.AlertRules {
			out[i] = check.Glob{Pattern: g, Line: 1, Col: 1}
		}
		return out
	}
	return append([]check.Glob(nil), c.alertGlobs...)
}

// readAlerts checks each alert_rules pattern and remembers where it is
// written, so a pattern that matches nothing is reported at its line.
func (c *Config) readAlerts(src []byte) error {
	if len(c.AlertRules) == 0 {
		return nil
	}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", FileName, err)
	}
	c.alertGlobs = make([]check.Glob, len(c.AlertRules))
	for i, g := range c.AlertRules {
		c.alertGlobs[i] = check.Glob{Pattern: g, Line: 1, Col: 1}
		if p, err := yaml.PathString(fmt.Sprintf("$.alert_rules[%d]", i)); err == nil {
			if n, err := p.FilterFile(f); err == nil && n.GetToken() != nil {
				c.alertGlobs[i].Line, c.alertGlobs[i].Col = n.GetToken().Position.Line, n.GetToken().Position.Column
			}
		}
		if err := alertrule.CheckGlob(g); err != nil {
			return fmt.Errorf("%s:%d:%d: alert_rules: %v; write a pattern relative to the project folder, for example rules/*.yaml", FileName, c.alertGlobs[i].Line, c.alertGlobs[i].Col, err)
		}
	}
	return nil
}
