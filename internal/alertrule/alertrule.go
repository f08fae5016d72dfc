// Package alertrule owns alerting-rule files: Prometheus rule files and
// PrometheusRule manifests (multi-document YAML), read with Prometheus's own
// rule-file and PromQL parsers into alerts that remember where each of their
// fields was written, and the join of each alert to its runbook page.
package alertrule

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pos is a 1-based line and column in a rule file.
type Pos struct {
	Line, Col int
}

// File is one rule file: its groups in the order written, across documents.
type File struct {
	// Path is the file's name as findings show it ("rules/node.yaml").
	Path   string
	Groups []*Group
	// Problems are what Prometheus would refuse in the file, in file order.
	Problems []Problem
}

// Group is one rule group.
type Group struct {
	Name string
	Pos  Pos // of the group's name, or of the group when it has none
	// Doc is the YAML document (0-based) of a multi-document manifest.
	Doc    int
	Alerts []*Alert
}

// Alert is one alerting rule. Recording rules are validated, not kept.
type Alert struct {
	Name  string
	Pos   Pos // of the alert's name
	File  string
	Group string

	Expr    string
	ExprPos Pos
	// For is how long the expression must hold before the alert fires.
	For           time.Duration
	KeepFiringFor time.Duration

	// Labels and Annotations are sorted by name.
	Labels      []Pair
	Annotations []Pair
}

// Pair is one label or annotation; Pos is where its value was written.
type Pair struct {
	Name, Value string
	Pos         Pos
}

func lookup(ps []Pair, name string) (Pair, bool) {
	i := slices.IndexFunc(ps, func(p Pair) bool { return p.Name == name })
	if i < 0 {
		return Pair{}, false
	}
	return ps[i], true
}

// Label returns the value of a label, or "".
func (a *Alert) Label(name string) string {
	p, _ := lookup(a.Labels, name)
	return p.Value
}

// Annotation returns an annotation and whether the rule sets it.
func (a *Alert) Annotation(name string) (Pair, bool) { return lookup(a.Annotations, name) }

// Severity is the alert's severity label, lower-cased ("critical").
func (a *Alert) Severity() string { return strings.ToLower(strings.TrimSpace(a.Label("severity"))) }

// RunbookURL returns the runbook_url annotation (or the older runbook).
func (a *Alert) RunbookURL() (Pair, bool) {
	if p, ok := a.Annotation("runbook_url"); ok && strings.TrimSpace(p.Value) != "" {
		return p, true
	}
	if p, ok := a.Annotation("runbook"); ok && strings.TrimSpace(p.Value) != "" {
		return p, true
	}
	return Pair{}, false
}

// Summary returns the summary annotation (or message, as older rules say).
func (a *Alert) Summary() string {
	for _, k := range []string{"summary", "message"} {
		if p, ok := a.Annotation(k); ok {
			return p.Value
		}
	}
	return ""
}

// Description returns the description annotation.
func (a *Alert) Description() string {
	p, _ := a.Annotation("description")
	return p.Value
}

// ForText formats the for duration as Prometheus writes it ("5m"), or "".
func (a *Alert) ForText() string { return formatDuration(a.For) }

func formatDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	for _, u := range []struct {
		d time.Duration
		s string
	}{{7 * 24 * time.Hour, "w"}, {24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.s
		}
	}
	return d.String()
}

// Alerts returns every alert of the files, in file and group order.
func Alerts(files []*File) []*Alert {
	var out []*Alert
	for _, f := range files {
		for _, g := range f.Groups {
			out = append(out, g.Alerts...)
		}
	}
	return out
}
