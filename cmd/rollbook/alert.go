package main

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/config"
	"github.com/rollbook/rollbook/internal/scaffold"
)

// alertSkeleton writes the runbook of alert name (`rollbook new alert
// NAME`), filled from the alert_rules files when one holds the alert.
func alertSkeleton(cfg *config.Config, name, service string) ([]byte, error) {
	return scaffold.AlertSkeleton(name, service, findAlert(cfg, name), time.Now())
}

// findAlert returns the first alerting rule named name (any case) in the
// rule files of alert_rules, or nil.
func findAlert(cfg *config.Config, name string) *alertrule.Alert {
	matched, err := alertrule.Expand(cfg.Root, cfg.AlertRules)
	if err != nil {
		return nil
	}
	var files []*alertrule.File
	for _, list := range matched {
		for _, rel := range list {
			if src, err := os.ReadFile(filepath.Join(cfg.Root, filepath.FromSlash(rel))); err == nil && len(src) <= alertrule.MaxFileSize {
				files = append(files, alertrule.Parse(rel, src))
			}
		}
	}
	for _, exact := range []bool{true, false} {
		for _, a := range alertrule.Alerts(files) {
			if a.Name == name || !exact && strings.EqualFold(a.Name, name) {
				return a
			}
		}
	}
	return nil
}
