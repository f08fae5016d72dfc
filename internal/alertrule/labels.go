package alertrule

import (
	"regexp"
	"slices"

	"github.com/prometheus/prometheus/promql/parser"
)

// labelRef is a label an annotation template reads: {{ $labels.pod }}.
var labelRef = regexp.MustCompile(`\$labels\.([A-Za-z_][A-Za-z0-9_]*)`)

// IncidentLabels returns the labels a firing alert of this rule is known
// to carry that say where it fires (a namespace, a pod, an instance): the
// labels the expression's outermost aggregation groups by, and those its
// annotations already print. They are the values a runbook's commands
// need, and what its runbook_url can carry. The rule's own static labels
// (severity, team) say nothing about where, and are left out. Sorted.
func (a *Alert) IncidentLabels() []string {
	seen := map[string]bool{}
	if e, err := promql.ParseExpr(a.Expr); err == nil {
		for _, l := range groupedBy(e) {
			seen[l] = true
		}
	}
	for _, an := range a.Annotations {
		for _, m := range labelRef.FindAllStringSubmatch(an.Value, -1) {
			seen[m[1]] = true
		}
	}
	for _, l := range a.Labels {
		delete(seen, l.Name)
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// groupedBy is the by (…) of the aggregation that makes the alert's
// series: through comparisons and parentheses, the left-hand side (which
// the result's labels come from), down to the first aggregation.
func groupedBy(e parser.Expr) []string {
	switch e := e.(type) {
	case *parser.ParenExpr:
		return groupedBy(e.Expr)
	case *parser.BinaryExpr:
		if l := groupedBy(e.LHS); l != nil {
			return l
		}
		if e.LHS.Type() == parser.ValueTypeScalar {
			return groupedBy(e.RHS)
		}
		return nil
	case *parser.AggregateExpr:
		if e.Without {
			return nil
		}
		return e.Grouping
	case *parser.Call:
		// label_replace, clamp, …: the labels of their vector argument.
		for _, arg := range e.Args {
			if arg.Type() == parser.ValueTypeVector {
				return groupedBy(arg)
			}
		}
	}
	return nil
}
