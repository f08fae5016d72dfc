package check

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/rollbook/rollbook/internal/alertrule"
	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/plan"
)

// AlertOptions configures the alert rules (SPEC 4).
type AlertOptions struct {
	// RequireRunbook lists the severities that must have a runbook.
	RequireRunbook []string
	// Globs are rollbook.yaml's alert_rules patterns, each with where it
	// is written and how many files it matched.
	Globs []Glob
	// Config is the config file's name as findings show it.
	Config string
	// ContentDir is the content folder as findings show it ("content").
	ContentDir string
	// BaseURL is the site's base_url, to say what a runbook_url should be.
	BaseURL string
}

// Glob is one alert_rules pattern and what it matched.
type Glob struct {
	Pattern   string
	Line, Col int
	Files     int
}

// problemRules names the rule of each kind of rule-file problem.
var problemRules = map[alertrule.ProblemKind]string{
	alertrule.BadFile:   "alert-rule-file",
	alertrule.GroupName: "alert-group-name",
	alertrule.NoExpr:    "alert-expr",
	alertrule.BadExpr:   "alert-expr",
	alertrule.BadRule:   "alert-rule",
}

// Alerts checks the alerting rules and their runbooks: rule files that do
// not parse, runbook_url annotations that are not URLs or reach no page,
// alerts of a required severity without a runbook, one alert name with two
// runbooks, and alert runbooks whose alert is in no rule file. pages are
// the site's plans by source path inside the content folder.
func Alerts(ix *alertrule.Index, pages map[string]*plan.Plan, opts AlertOptions) diag.List {
	var ds diag.List
	add := func(file string, at alertrule.Pos, rule, msg, fix string) {
		ds = append(ds, diag.At(file, at.Line, at.Col).As(severity(rule), rule, msg, fix))
	}
	for _, g := range opts.Globs {
		if g.Files == 0 {
			add(opts.Config, alertrule.Pos{Line: g.Line, Col: g.Col}, "alert-rules-glob", fmt.Sprintf("alert_rules pattern %q matches no file", g.Pattern),
				"fix the pattern (relative to the project folder; ** matches any folders), or remove it")
		}
	}
	for _, f := range ix.Files {
		for _, p := range f.Problems {
			add(f.Path, p.Pos, problemRules[p.Kind], p.Message, p.Fix)
		}
	}
	paths := sortedPaths(pages)
	required := func(sev string) bool {
		return slices.ContainsFunc(opts.RequireRunbook, func(s string) bool { return strings.EqualFold(s, sev) })
	}
	for _, j := range ix.Alerts {
		switch j.State {
		case alertrule.Invalid:
			add(j.File, j.URL.Pos, "alert-runbook-url", fmt.Sprintf("runbook_url %q of alert %s is not a URL: %s", j.URL.Value, j.Name, j.Problem),
				"write the runbook's URL, for example "+strings.TrimSuffix(opts.BaseURL, "/")+alertrule.StableURL(j.Name))
		case alertrule.Broken:
			fix := fmt.Sprintf("write the runbook (rollbook new alert %s) or point runbook_url at an existing page", j.Name)
			if ps := byName(pages, paths, j.Name); ps != "" {
				fix = fmt.Sprintf("the runbook of %s is %s: point runbook_url at it, or at %s", j.Name, path.Join(opts.ContentDir, ps), strings.TrimSuffix(opts.BaseURL, "/")+alertrule.StableURL(j.Name))
			}
			add(j.File, j.URL.Pos, "alert-runbook-broken", fmt.Sprintf("runbook_url %q of alert %s reaches no page of this site", j.URL.Value, j.Name), fix)
		}
		if !j.HasRunbook() && j.State != alertrule.Broken && j.State != alertrule.Invalid && required(j.Severity()) {
			add(j.File, j.Pos, "alert-no-runbook", fmt.Sprintf("alert %s has severity %s but no runbook page", j.Name, j.Severity()),
				fmt.Sprintf("write one with rollbook new alert %s (or add a runbook_url annotation)", j.Name))
		}
	}
	ds = append(ds, duplicates(ix)...)
	ds = append(ds, orphans(ix, pages, paths, opts.ContentDir)...)
	ds.Sort()
	return ds
}

func sortedPaths(pages map[string]*plan.Plan) []string {
	paths := make([]string, 0, len(pages))
	for p := range pages {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// byName returns the path of an alert runbook page explaining name, or "".
func byName(pages map[string]*plan.Plan, paths []string, name string) string {
	for _, p := range paths {
		if slices.ContainsFunc(pages[p].AlertNames(), func(n string) bool { return strings.EqualFold(n, name) }) {
			return p
		}
	}
	return ""
}

// duplicates reports one alert name written with two different runbooks:
// whichever page the join picks, half of the pages get the wrong one.
func duplicates(ix *alertrule.Index) diag.List {
	var ds diag.List
	seen := map[string]*alertrule.Joined{}
	for _, j := range ix.Alerts {
		if j.URL.Value == "" {
			continue
		}
		first, ok := seen[j.Name]
		if !ok {
			seen[j.Name] = j
			continue
		}
		if sameRunbook(first, j) {
			continue
		}
		ds = append(ds, diag.At(j.File, j.URL.Pos.Line, j.URL.Pos.Col).As(severity("alert-duplicate"), "alert-duplicate",
			fmt.Sprintf("alert %s is also defined at %s:%d with runbook_url %q: one alert name, two runbooks", j.Name, first.File, first.Pos.Line, first.URL.Value),
			"give both rules the same runbook_url, or rename one of the alerts"))
	}
	return ds
}

func sameRunbook(a, b *alertrule.Joined) bool {
	if a.Page != nil || b.Page != nil {
		return a.Page == b.Page
	}
	return strings.EqualFold(strings.TrimSpace(a.URL.Value), strings.TrimSpace(b.URL.Value))
}

// orphans reports alert runbooks whose alert is in no rule file: the alert
// was renamed or deleted and the page stayed.
func orphans(ix *alertrule.Index, pages map[string]*plan.Plan, paths []string, contentDir string) diag.List {
	var ds diag.List
	for _, p := range paths {
		pl := pages[p]
		explicit := len(pl.Alert) > 0
		for _, name := range ix.Unknown(p, pl.AlertNames(), explicit) {
			at := pl.Pos("kind")
			if explicit {
				at = pl.Pos(fmt.Sprintf("alert[%d]", slices.Index(pl.AlertNames(), name)))
			}
			fix := "add the alert to a rule file under alert_rules, or remove the page if the alert is gone"
			if c := ix.Closest(name); c != "" {
				fix = fmt.Sprintf("did you mean %s? write alert: %s", c, c)
			}
			what := fmt.Sprintf("alert runbook explains alert %s", name)
			if !explicit {
				what = fmt.Sprintf("alert runbook (named %s by its file, no alert: key)", name)
			}
			ds = append(ds, diag.At(path.Join(contentDir, p), at.Line, at.Col).As(severity("alert-orphan-runbook"), "alert-orphan-runbook",
				what+", which is in no rule file: renamed or deleted?", fix))
		}
	}
	return ds
}
